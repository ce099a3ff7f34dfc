"""Hosts in Chromium streaming the fake webcam, and windows of streaming measured in the page."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..harness import (
    WIDGET_CELLS,
    WIDGET_SELECTOR,
    CpuMeter,
    FakeVideo,
    WidgetHost,
    chromium_path,
    default_fake_video,
    launch_chromium,
    wait_until,
)
from ..harness.procstat import cmdline, default_role, descendants
from ..harness.util import PACKAGE_PARENT
from .configs import (
    DEFAULT_SECONDS,
    HOST_NAMES,
    JS_IMAGE_TAKE,
    JS_IMAGE_WATCH,
    JS_MARK,
    JS_PEEK,
    JS_TAKE,
    PERF_INIT,
    SETTLE_RESULTS,
    log,
)
from .report import cpu_text, mean, merge_cpu, noisy, pct, summarize


@dataclass
class Target:
    """One page streaming the fake webcam, and the processes that serve it."""

    name: str
    host: str  # lab | voila | page
    page: Any
    user_data_dir: Path
    server_pid: int
    widget_host: WidgetHost | None = None
    server_proc: subprocess.Popen | None = None
    startup: dict[str, Any] = field(default_factory=dict)
    own_browser: bool = False  # another client of a page's server (E2EBench.open_client)
    proxy: Any = None  # the WAN proxy the page reaches its host through (harness/wan.py)
    page_url: str | None = None  # the page's own URL (``segwidget serve``), for reloads
    _chromium_pids: set[int] = field(default_factory=set)
    _chromium_at: float = -1e9

    @property
    def probe(self):
        return self.widget_host.probe if self.widget_host else None

    def set(self, **traits: Any) -> None:
        """Set widget traits from Python, as a user's cell would."""
        if self.probe is None:
            raise RuntimeError(f"{self.name}: no kernel to set {sorted(traits)} in")
        self.probe.execute("\n".join(f"w.{k} = {v!r}" for k, v in traits.items()))

    def role(self, pid: int, args: list[str], known: dict[int, str]) -> str:
        """Name a process for the CPU table: this target's own, or another host's."""
        name = default_role(pid, args, known)
        if pid in known or name in ("bench", "playwright driver"):
            return name
        if name.startswith("chromium:"):
            return name if pid in self._chromium() else "other hosts (idle)"
        if name == "kernel" or any(
            m in " ".join(args) for m in ("jupyterlab", "voila", "segwidget.cli")
        ):
            return "other hosts (idle)"  # kernels and servers of the hosts not measured now
        return name

    def _chromium(self) -> set[int]:
        """This target's Chromium processes: its browser process and everything below it."""
        flag = f"--user-data-dir={self.user_data_dir}"
        now = time.monotonic()
        if now - self._chromium_at > 1.0:
            self._chromium_at = now
            browsers = [
                pid
                for pid in descendants(os.getpid())
                if "--type=" not in " ".join(args := cmdline(pid)) and flag in args
            ]
            self._chromium_pids = {p for b in browsers for p in descendants(b)}
        return self._chromium_pids

    def cpu_meter(self) -> CpuMeter:
        server = "jupyter server" if self.host == "lab" else f"{self.host} server"
        if self.host == "page":
            server = "segwidget server"
        known = {self.server_pid: server}
        for pid in descendants(self.server_pid):
            if pid != self.server_pid and any("ipykernel" in a for a in cmdline(pid)):
                known[pid] = "kernel"
        return CpuMeter(known=known, role=self.role)

    def close(self) -> None:
        if self.own_browser:
            with contextlib.suppress(Exception):
                self.page.context.close()
        if self.widget_host is not None:
            self.widget_host.close()
        if self.server_proc is not None:
            with contextlib.suppress(Exception):
                self.page.context.close()
            self.server_proc.terminate()
            try:
                self.server_proc.wait(20)
            except subprocess.TimeoutExpired:
                self.server_proc.kill()
                self.server_proc.wait()
        if self.proxy is not None:
            self.proxy.stop()


class E2EBench:
    """Starts hosts in Chromium with the fake webcam and measures windows of streaming."""

    def __init__(self, seconds: float = DEFAULT_SECONDS, workdir: Path | None = None):
        self.seconds = seconds
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="segwidget-bench-e2e-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.video: FakeVideo | None = None
        self.clip: Any = None  # what the video shows, when it is not the default clip
        self.playwright = None
        self.targets: list[Target] = []
        self._n = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> E2EBench:
        from playwright.sync_api import sync_playwright

        self.video = default_fake_video(self.workdir / "webcam.y4m")
        self.playwright = sync_playwright().start()
        return self

    def use_video(self, video: FakeVideo, clip: Any = None) -> None:
        """Browsers launched from now on play ``video`` as their camera."""
        self.video, self.clip = video, clip

    def __exit__(self, *exc: object) -> None:
        for target in reversed(self.targets):
            with contextlib.suppress(Exception):
                target.close()
        self.targets.clear()
        if self.playwright is not None:
            self.playwright.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _dir(self, what: str) -> Path:
        self._n += 1
        path = self.workdir / f"{self._n:02d}-{what}"
        path.mkdir(parents=True)
        return path

    def _launch(self, user_data_dir: Path):
        return launch_chromium(self.playwright, chromium_path(), self.video.path, user_data_dir)

    # -- hosts -------------------------------------------------------------------------------
    def open_widget(
        self,
        host: str,
        name: str | None = None,
        cells: list[str] | None = None,
        selector: str = WIDGET_SELECTOR,
        server_args: Iterable[str] = (),
        wait_first: bool = True,
        proxy: Callable[[int], Any] | None = None,
        init_scripts: Iterable[str] = (),
    ) -> Target:
        """JupyterLab or Voila running ``cells`` (default: ``SegWidget(weights="random")``);
        with ``proxy`` (the server's port -> a started WAN proxy) the page goes through it."""
        home = self._dir(name or host)
        profile_dir = home / "chromium"
        wh = WidgetHost(
            host,
            home,
            cells or WIDGET_CELLS,
            selector,
            server_args=list(server_args),
            init_scripts=[PERF_INIT, *init_scripts],
        )
        target = Target(name or HOST_NAMES[host], host, None, profile_dir, 0, widget_host=wh)
        self.targets.append(target)
        if proxy is not None:
            target.proxy = proxy(wh.server.port)
            wh.url_hook = target.proxy.url
        log(f"starting {target.name} ...")
        wh.start(lambda: self._launch(profile_dir))
        target.page = wh.page
        target.server_pid = wh.server.proc.pid
        target.startup = dict(wh.timings)
        if wait_first:
            self._first_result(target)
        return target

    def open_page(
        self,
        name: str | None = None,
        profile: str = "fast",
        proxy: Callable[[int], Any] | None = None,
        init_scripts: Iterable[str] = (),
    ) -> Target:
        """``segwidget serve`` in a subprocess, its page in Chromium (through ``proxy``, the
        server's port -> a started WAN proxy, if given)."""
        home = self._dir("page")
        token = secrets.token_hex(12)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = str(PACKAGE_PARENT) + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        cmd = [
            sys.executable,
            "-m",
            "segwidget.cli",
            "serve",
            "--port",
            "0",
            "--token",
            token,
            "--weights",
            "random",
            "--profile",
            profile,
        ]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        target = Target(name or HOST_NAMES["page"], "page", None, home / "chromium", proc.pid)
        target.server_proc = proc
        self.targets.append(target)
        log(f"starting {target.name} ...")
        lines: list[str] = []
        url = None
        for line in proc.stdout:
            lines.append(line)
            if line.strip().startswith("http://"):
                url = line.strip()
                break
        if url is None:
            raise RuntimeError("segwidget serve did not start:\n" + "".join(lines))
        base = url.split("/?", 1)[0]

        def healthy() -> bool:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
                return resp.status == 200

        wait_until(healthy, 60, "segwidget serve to answer /healthz")
        target.startup["server"] = round(time.monotonic() - t0, 2)
        if proxy is not None:
            target.proxy = proxy(int(base.rsplit(":", 1)[1]))
            url = target.proxy.url(url)
        target.page_url = url
        context = self._launch(target.user_data_dir)
        for script in (PERF_INIT, *init_scripts):
            context.add_init_script(script)
        target.page = context.new_page()
        target.page.goto(f"{url}&autostart=1", wait_until="domcontentloaded")
        target.startup["page"] = round(time.monotonic() - t0, 2)
        self._first_result(target)
        return target

    def reload_page(self, target: Target, query: str = "") -> None:
        """Open a page target's URL again with ``query`` added (its settings are its URL's)."""
        target.page.goto(f"{target.page_url}&autostart=1{query}", wait_until="domcontentloaded")

    def open_client(self, first: Target, name: str | None = None) -> Target:
        """``first``'s page in a browser of its own: one more client of the same server.

        Not another tab of the same browser: Chromium throttles the video frames of a tab
        that is not in front (measured: 1.6 FPS for each background tab, 7.5 in front).
        """
        n = sum(1 for t in self.targets if t.server_pid == first.server_pid) + 1
        profile_dir = self._dir(f"page-client-{n}") / "chromium"
        context = self._launch(profile_dir)
        context.add_init_script(PERF_INIT)
        page = context.new_page()
        page.goto(first.page.url, wait_until="domcontentloaded")
        target = Target(
            name or f"{first.name} #{n}",
            first.host,
            page,
            profile_dir,
            first.server_pid,
            own_browser=True,
        )
        self.targets.append(target)
        self._first_result(target)
        return target

    def _first_result(self, target: Target, timeout: float = 240) -> None:
        """Wait for the first drawn result; record the time from the view's appearance."""
        try:
            target.page.wait_for_function(
                "() => window.__swperf && window.__swperf.t_first !== null",
                timeout=timeout * 1000,
            )
        except Exception as exc:
            diag = target.widget_host.diagnostics() if target.widget_host else ""
            raise RuntimeError(f"{target.name}: no result was drawn ({exc}){diag}") from exc
        t_view, t_first = target.page.evaluate(
            "() => [window.__swperf.t_view, window.__swperf.t_first]"
        )
        target.startup["first_result_s"] = (
            round((t_first - t_view) / 1000, 2) if t_view is not None else None
        )
        log(f"{target.name}: first result {target.startup['first_result_s']} s after display")

    # -- measuring ---------------------------------------------------------------------------
    def settle(
        self,
        target: Target,
        accept: Callable[[dict], bool] = lambda _f: True,
        n: int = SETTLE_RESULTS,
        timeout: float = 90,
    ) -> None:
        """Wait until ``n`` results of frames sent with the wanted settings have been drawn."""
        target.page.evaluate(JS_MARK)

        def done() -> bool:
            got = target.page.evaluate(JS_PEEK)
            good = {
                seq
                for seq, mif, up, enc in got["frames"]
                if accept({"seq": seq, "max_in_flight": mif, "upload_size": up, "encoding": enc})
            }
            return sum(1 for s in got["renders"] if s in good) >= n

        wait_until(done, timeout, f"{n} results on {target.name}", interval=0.1)

    def window(self, target: Target, seconds: float) -> dict[str, Any]:
        """Stream for ``seconds`` and return the raw records and the CPU figures."""
        meter = target.cpu_meter().start()
        t0 = target.page.evaluate(JS_MARK)
        time.sleep(seconds)  # the measured window itself
        got = target.page.evaluate(JS_TAKE)
        cpu = meter.stop()
        return {
            "frames": got["frames"],
            "renders": got["renders"],
            "duration_s": (got["now"] - t0) / 1000,
            "cpu": cpu,
        }

    def measure(self, target: Target, seconds: float | None = None) -> dict[str, Any]:
        """One window with the current settings, summarised."""
        self.settle(target)
        w = self.window(target, seconds or self.seconds)
        return self.row(target, [w])

    def row(self, target: Target, windows: list[dict[str, Any]], **extra: Any) -> dict:
        frames = [f for w in windows for f in w["frames"]]
        renders = [r for w in windows for r in w["renders"]]
        fig = summarize(frames, renders, sum(w["duration_s"] for w in windows))
        cpu = merge_cpu([w["cpu"] for w in windows])
        return {
            "name": target.name,
            "host": target.host,
            **{k: fig.pop(k) for k in ("fps", "latency_p50_ms", "latency_p95_ms")},
            "frames_dropped": fig.pop("frames_dropped"),
            "first_result_s": target.startup.get("first_result_s"),
            "cpu_pct": cpu_text(cpu),
            "noisy": noisy(cpu),
            **extra,
            **fig,
            "cpu": cpu,
            "startup_s": target.startup,
        }

    def alternate(
        self,
        configs: list[tuple[str, Target, Callable[[], None], Callable[[dict], bool]]],
        seconds: float | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Each config for ``seconds`` in all, in two windows ordered A B ... B A.

        A config is ``(label, target, apply, accept)``: ``apply()`` switches to it and
        ``accept(frame)`` tells frames sent with it. Alternating cancels slow drifts of the
        machine's load between the configurations.
        """
        seconds = seconds or self.seconds
        windows: dict[str, list[dict]] = {label: [] for label, *_ in configs}
        for label, target, apply, accept in [*configs, *configs[::-1]]:
            apply()
            self.settle(target, accept)
            windows[label].append(self.window(target, seconds / 2))
            log(f"  {label}: {len(windows[label][-1]['renders'])} results")
        out = {}
        for label, target, *_ in configs:
            out[label] = self.row(target, windows[label], config=label)
        return out

    # -- the notebook baseline -----------------------------------------------------------------
    def baseline_window(self, target: Target, seconds: float) -> dict[str, Any]:
        """Run the baseline loop for ``seconds``; figures from the page's image loads."""
        target.page.evaluate(JS_IMAGE_WATCH)
        meter = target.cpu_meter().start()
        t0 = time.monotonic()
        target.probe.execute(
            f"_swb_rows = run_baseline({str(self.video.path)!r}, {seconds})",
            timeout=seconds + 120,
        )
        wall = time.monotonic() - t0
        cpu = meter.stop()
        rows = target.probe.eval("_swb_rows", timeout=60)
        seen = target.page.evaluate(JS_IMAGE_TAKE)
        return {
            "rows": rows,
            "changes": seen["changes"],
            "loads": seen["loads"],
            "wall": wall,
            "cpu": cpu,
        }

    def baseline_row(self, target: Target, windows: list[dict[str, Any]]) -> dict[str, Any]:
        lat: list[float] = []
        to_load: list[float] = []
        shown = sent = 0
        duration = 0.0
        rows_all: list[dict] = []
        for w in windows:
            rows = w["rows"]
            rows_all += rows
            index = {c["src"]: i for i, c in enumerate(w["changes"])}
            loaded = set()
            for load in w["loads"]:
                i = index.get(load["src"])
                if i is None or i >= len(rows) or i in loaded:
                    continue
                loaded.add(i)
                lat.append(load["t"] - rows[i]["t_read"])
                to_load.append(load["t_load"] - rows[i]["t_read"])
            shown += len(loaded)
            sent += len(rows)
            duration += w["wall"]
        cpu = merge_cpu([w["cpu"] for w in windows])
        stage = {
            k: mean(r[k] for r in rows_all)
            for k in ("read", "segment", "inference", "overlay", "encode", "send")
        }
        return {
            "name": target.name,
            "host": target.host,
            "config": "ipywidgets.Image loop",
            "fps": round(shown / duration, 2) if duration else None,
            "latency_p50_ms": pct(lat, 50),
            "latency_p95_ms": pct(lat, 95),
            "frames_dropped": sent - shown,
            "first_result_s": None,
            "cpu_pct": cpu_text(cpu),
            "noisy": noisy(cpu),
            "loop_fps": round(sent / duration, 2) if duration else None,
            "frames_sent": sent,
            "frames_rendered": shown,
            "latency_mean_ms": mean(lat),
            "latency_to_load_p50_ms": pct(to_load, 50),
            "stages": stage,
            "upload_bytes": None,
            "download_bytes": mean(r["bytes"] for r in rows_all),
            "cpu": cpu,
            "startup_s": target.startup,
            "method": "kernel loop: cv2.VideoCapture on the same clip, paced at its 30 fps like "
            "a camera, engine.segment, "
            "render_overlay, cv2.imencode, Image.value; fps = images loaded per second in the "
            "page; latency = the animation frame after the image loaded (page clock) - frame "
            "read (kernel wall clock, same machine). The loop blocks the kernel while it runs.",
        }
