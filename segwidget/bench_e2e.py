"""``segwidget bench --e2e``: the real widget or page in headless Chromium, measured end to end.

The widget runs in JupyterLab or Voila (``SegWidget(weights="random")``: fast profile,
default CPU settings), or the page of ``segwidget serve`` runs in a subprocess; Chromium
plays a fake webcam clip made from real photos. The view dispatches a ``segwidget:frame``
event for each frame it sends and a ``segwidget:render`` event for each result it draws
(``js/src/session.js``); a script installed in the page before anything else keeps them, so
every figure comes from per-frame records taken in the browser:

- ``fps``: results drawn per second; ``latency_*_ms``: capture-to-render, per frame
  (percentiles, not means of means);
- ``frames_dropped``: frames sent and never drawn (the server keeps only the newest);
- ``stages``: per-stage means with the names of ``SegWidget.stats["stages"]``, and
  ``latency_parts``, which add up to the mean latency: before_send (grab + JPEG encode),
  network (round trip minus the server's time), server (queue + decode + model + encode),
  after_receive (mask decode + wait for the next draw + draw);
- ``cpu``: CPU per process over the window, in % of one core, from ``/proc`` (the active
  host's Chromium processes by type, its Jupyter server, its kernel, ...), with the load
  from outside the measured processes and the load averages;
- ``first_result_s``: from the widget appearing in the page to its first drawn result.

``run_all`` measures, in one run, the side-by-side experiments of issue 5 as ratios:
TCP_NODELAY on vs off (two JupyterLab servers, windows alternated A B B A), one vs two
frames in flight and model-size vs full-size upload (the widget's ``max_in_flight`` and
``upload_size`` settings, same host, alternated), ONNX Runtime's thread pool as segwidget
configures it vs spinning (ORT's own default, forced in a second kernel before the engine
loads), our widget vs the common notebook loop
(OpenCV reads the same clip, the same engine segments, ``render_overlay`` composites,
``cv2.imencode`` and ``ipywidgets.Image.value``; its FPS and latency are measured in the
browser from the image's loads), and the kernel round trip with and without TCP_NODELAY
(``benchmarks/nodelay.py``). ``python benchmarks/e2e.py --json OUT.json`` runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
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

import numpy as np

from .e2e import (
    NODELAY_OFF,
    WIDGET_CELLS,
    WIDGET_SELECTOR,
    CpuMeter,
    FakeVideo,
    WidgetHost,
    chromium_path,
    default_fake_video,
    launch_chromium,
    missing_requirements,
    wait_until,
)
from .e2e.procstat import cmdline, default_role, descendants
from .e2e.util import PACKAGE_PARENT

DEFAULT_SECONDS = 15.0
HOST_NAMES = {"lab": "JupyterLab", "voila": "Voila", "page": "segwidget serve page"}
#: Results drawn with the new setting before a window starts.
SETTLE_RESULTS = 5
#: CPU used outside the measured processes (other jobs on the machine), in % of one core,
#: above which a row is flagged ``noisy``: its figures are not comparable with the others.
NOISY_OUTSIDE_PCT = 25.0

# Installed in every page before its own scripts: keeps the view's per-frame events and the
# times the view appeared and first drew a result (client clock, ms).
PERF_INIT = r"""(() => {
  if (window.__swperf) return;
  const now = () => performance.timeOrigin + performance.now();
  const rec = (window.__swperf = { frames: [], renders: [], t_view: null, t_first: null });
  document.addEventListener("segwidget:frame", (e) => rec.frames.push(e.detail), true);
  document.addEventListener("segwidget:render", (e) => {
    if (rec.t_first === null) rec.t_first = e.detail.t_rendered;
    rec.renders.push(e.detail);
  }, true);
  const watch = () => {
    const mo = new MutationObserver(() => {
      if (rec.t_view === null && document.querySelector(".segwidget")) {
        rec.t_view = now();
        mo.disconnect();
      }
    });
    mo.observe(document.documentElement, { childList: true, subtree: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();"""

JS_MARK = """() => { const r = window.__swperf; r.frames.length = 0; r.renders.length = 0;
  return performance.timeOrigin + performance.now(); }"""
JS_TAKE = """() => { const r = window.__swperf; return {frames: r.frames.splice(0),
  renders: r.renders.splice(0), now: performance.timeOrigin + performance.now()}; }"""
JS_PEEK = """() => { const r = window.__swperf; return {frames: r.frames.map(f => [f.seq,
  f.max_in_flight, f.upload_size]), renders: r.renders.map(x => x.seq)}; }"""

# The common notebook baseline: a Python loop that reads frames with OpenCV, segments them
# with the same engine, composites with render_overlay, JPEG-encodes and assigns the bytes
# to an ipywidgets.Image. It blocks the kernel while it runs, as such a cell does.
BASELINE_CELLS = [
    """import time
import cv2
import ipywidgets as widgets
from IPython.display import display
from segwidget import get_engine
from segwidget.labels import resolve_palette
from segwidget.render import render_overlay

engine = get_engine("fast", weights="random")
palette = resolve_palette("voc", len(engine.labels))
image = widgets.Image(format="jpeg")
display(image)


def run_baseline(path, seconds, quality=80, opacity=0.6):
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    rows = []
    start = time.perf_counter()
    n = -1
    while time.perf_counter() - start < seconds:
        # Paced like a camera: frame n exists at start + n / fps; a slow loop gets the
        # newest one, a fast loop waits for the next.
        n = max(n + 1, int((time.perf_counter() - start) * fps))
        wait = start + n / fps - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        ok, bgr = cap.read()
        if not ok:  # the clip loops, like the browser's fake camera
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        t_read = time.time() * 1000
        t1 = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        res = engine.segment(rgb)
        t2 = time.perf_counter()
        over = render_overlay(rgb, res.mask, palette, "filled", opacity)
        t3 = time.perf_counter()
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(over, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        t4 = time.perf_counter()
        image.value = jpg.tobytes()
        t5 = time.perf_counter()
        rows.append({"t_read": t_read, "read": (t1 - t0) * 1000, "segment": (t2 - t1) * 1000,
                     "inference": res.timings["inference"], "overlay": (t3 - t2) * 1000,
                     "encode": (t4 - t3) * 1000, "send": (t5 - t4) * 1000,
                     "bytes": len(jpg)})
    cap.release()
    return rows
"""
]

# The widget with ONNX Runtime's intra-op thread pool spinning while it waits for work (ORT's
# own default, ``session.intra_op.allow_spinning = 1``), forced before the engine loads
# whatever segwidget's backend sets: compared with segwidget's own settings.
ORT_SPIN_CELLS = [
    """import onnxruntime as _ort

_Session = _ort.InferenceSession


class _SpinningSession(_Session):
    def __init__(self, path, sess_options=None, *args, **kwargs):
        if sess_options is not None:
            sess_options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        super().__init__(path, sess_options, *args, **kwargs)


_ort.InferenceSession = _SpinningSession
""",
    *WIDGET_CELLS,
]

#: Defines ``_segw_ort_threads()`` in the kernel: the serving engine's ONNX Runtime thread
#: settings (spinning is ORT's default when the option is unset).
ORT_SETTINGS_CODE = """def _segw_ort_threads():
    so = w.engine._run.session.get_session_options()
    try:
        spin = so.get_session_config_entry("session.intra_op.allow_spinning")
    except Exception:
        spin = "unset (ORT default: 1)"
    return {"intra_op_num_threads": so.intra_op_num_threads, "allow_spinning": spin}
"""

# Records, in the page, every src the baseline's <img> gets and every image it loads.
JS_IMAGE_WATCH = r"""() => {
  const img = document.querySelector(".widget-image");
  const now = () => performance.timeOrigin + performance.now();
  const rec = (window.__swimg = { changes: [], loads: [] });
  const mo = new MutationObserver((records) => {
    // each record holds the value before its change: the new values are the next record's
    // old value and, for the last one, the current src
    const t = now();
    records.forEach((r, i) => {
      const src = i + 1 < records.length ? records[i + 1].oldValue : img.getAttribute("src");
      rec.changes.push({ src, t });
    });
  });
  mo.observe(img, { attributes: true, attributeFilter: ["src"], attributeOldValue: true });
  // painted in the next animation frame after it loaded: the moment comparable to the
  // widget's draw, which happens in an animation frame too
  img.addEventListener("load", () => {
    const src = img.getAttribute("src");
    const t_load = now();
    requestAnimationFrame(() => rec.loads.push({ src, t_load, t: now() }));
  });
  return true;
}"""
JS_IMAGE_TAKE = "() => window.__swimg"


def _log(msg: str) -> None:
    print(f"[bench e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Figures from per-frame records
# --------------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if isinstance(v, int | float)]
    return round(sum(vals) / len(vals), 2) if vals else None


def summarize(frames: list[dict], renders: list[dict], duration_s: float) -> dict[str, Any]:
    """The figures of one window (or several merged) from the view's per-frame events."""
    lat = [float(r["latency_ms"]) for r in renders]
    drawn = {r["seq"] for r in renders}
    last = max(drawn) if drawn else 0
    sent = [f for f in frames if f["seq"] <= last]
    timings = [r.get("timings") or {} for r in renders]
    by_seq = {f["seq"]: f for f in frames}
    parts = []
    for r in renders:
        if r.get("t_sent") is None or r.get("t_received") is None:
            continue
        server = float(r.get("server_ms") or 0.0)
        parts.append(
            {
                "before_send": r["t_sent"] - r["t_capture"],
                "network": r["t_received"] - r["t_sent"] - server,
                "server": server,
                "after_receive": r["t_rendered"] - r["t_received"],
            }
        )
    network = _mean(p["network"] for p in parts)
    half = None if network is None else round(network / 2, 2)
    stages = {
        "capture": _mean(f.get("capture_ms") for f in frames),
        "encode": _mean(f.get("encode_ms") for f in frames),
        "upload": half,
        "queue": _mean(t.get("queue") for t in timings),
        "decode": _mean(t.get("decode") for t in timings),
        "preprocess": _mean(t.get("preprocess") for t in timings),
        "inference": _mean(t.get("inference") for t in timings),
        "postprocess": _mean(t.get("postprocess") for t in timings),
        "encode_mask": _mean(t.get("encode") for t in timings),
        "download": half,
        "decode_mask": _mean(r.get("decode_ms") for r in renders),
        "render": _mean(r.get("render_ms") for r in renders),
    }
    after = _mean(p["after_receive"] for p in parts)
    wait_draw = None
    if after is not None and stages["decode_mask"] is not None and stages["render"] is not None:
        wait_draw = round(after - stages["decode_mask"] - stages["render"], 2)
    matched = [by_seq[r["seq"]] for r in renders if r["seq"] in by_seq]
    return {
        "duration_s": round(duration_s, 2),
        "fps": round(len(renders) / duration_s, 2) if duration_s > 0 else None,
        "sent_fps": round(len(frames) / duration_s, 2) if duration_s > 0 else None,
        "frames_sent": len(frames),
        "frames_rendered": len(renders),
        "frames_dropped": sum(1 for f in sent if f["seq"] not in drawn),
        "latency_p50_ms": _pct(lat, 50),
        "latency_p95_ms": _pct(lat, 95),
        "latency_mean_ms": _mean(lat),
        "latency_min_ms": round(min(lat), 1) if lat else None,
        "latency_max_ms": round(max(lat), 1) if lat else None,
        "stages": stages,
        "latency_parts": {
            "before_send": _mean(p["before_send"] for p in parts),
            "network": network,
            "server": _mean(p["server"] for p in parts),
            "after_receive": after,
            "of_which_wait_for_draw": wait_draw,
        },
        "upload_bytes": _mean(f.get("bytes") for f in frames),
        "upload_size": f"{frames[-1]['width']}x{frames[-1]['height']}" if frames else None,
        "in_flight_at_send": _mean(f.get("in_flight") for f in matched),
    }


def _cpu_text(cpu: dict[str, Any]) -> str:
    """A short line for a table: the heaviest roles in % of one core."""
    groups: dict[str, float] = {}
    for name, pct in cpu["by_process"].items():
        key = "chromium" if name.startswith("chromium:") else name
        groups[key] = groups.get(key, 0.0) + pct
    keep = [(k, v) for k, v in sorted(groups.items(), key=lambda kv: -kv[1]) if v >= 1]
    text = ", ".join(f"{k} {v:.0f}" for k, v in keep)
    return f"{text}; outside {cpu['outside']:.0f}" if cpu.get("outside") is not None else text


def _noisy(cpu: dict[str, Any]) -> bool:
    """Whether other jobs on the machine used enough CPU to distort a measurement."""
    return bool(cpu.get("outside") is not None and cpu["outside"] > NOISY_OUTSIDE_PCT)


def _merge_cpu(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several windows' CPU figures as one, weighted by window length."""
    if len(windows) == 1:
        return windows[0]
    total = sum(w["window_s"] for w in windows)
    names = {k for w in windows for k in w["by_process"]}

    def avg(get: Callable[[dict], float | None]) -> float | None:
        vals = [(get(w), w["window_s"]) for w in windows]
        if any(v is None for v, _ in vals):
            return None
        return round(sum(v * s for v, s in vals) / total, 1)

    by = {n: avg(lambda w, n=n: w["by_process"].get(n, 0.0)) for n in names}
    return {
        **windows[-1],
        "window_s": round(total, 2),
        "by_process": dict(sorted(by.items(), key=lambda kv: -(kv[1] or 0))),
        "chromium_total": avg(lambda w: w["chromium_total"]),
        "measured_total": avg(lambda w: w["measured_total"]),
        "machine_busy": avg(lambda w: w["machine_busy"]),
        "outside": avg(lambda w: w["outside"]),
        "loadavg_start": windows[0]["loadavg_start"],
        "windows": len(windows),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# --------------------------------------------------------------------------------------------
# What runs in the browser: a widget in a Jupyter host, or the standalone page
# --------------------------------------------------------------------------------------------


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
        self.playwright = None
        self.targets: list[Target] = []
        self._n = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> E2EBench:
        from playwright.sync_api import sync_playwright

        self.video = default_fake_video(self.workdir / "webcam.y4m")
        self.playwright = sync_playwright().start()
        return self

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
    ) -> Target:
        """JupyterLab or Voila running ``cells`` (default: ``SegWidget(weights="random")``)."""
        home = self._dir(name or host)
        profile_dir = home / "chromium"
        wh = WidgetHost(
            host,
            home,
            cells or WIDGET_CELLS,
            selector,
            server_args=list(server_args),
            init_scripts=[PERF_INIT],
        )
        target = Target(name or HOST_NAMES[host], host, None, profile_dir, 0, widget_host=wh)
        self.targets.append(target)
        _log(f"starting {target.name} ...")
        wh.start(lambda: self._launch(profile_dir))
        target.page = wh.page
        target.server_pid = wh.server.proc.pid
        target.startup = dict(wh.timings)
        if wait_first:
            self._first_result(target)
        return target

    def open_page(self, name: str | None = None) -> Target:
        """``segwidget serve`` in a subprocess, its page in Chromium."""
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
        ]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        target = Target(name or HOST_NAMES["page"], "page", None, home / "chromium", proc.pid)
        target.server_proc = proc
        self.targets.append(target)
        _log(f"starting {target.name} ...")
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
        context = self._launch(target.user_data_dir)
        context.add_init_script(PERF_INIT)
        target.page = context.new_page()
        target.page.goto(f"{url}&autostart=1", wait_until="domcontentloaded")
        target.startup["page"] = round(time.monotonic() - t0, 2)
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
        _log(f"{target.name}: first result {target.startup['first_result_s']} s after display")

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
                for seq, mif, up in got["frames"]
                if accept({"seq": seq, "max_in_flight": mif, "upload_size": up})
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
        return self._row(target, [w])

    def _row(self, target: Target, windows: list[dict[str, Any]], **extra: Any) -> dict:
        frames = [f for w in windows for f in w["frames"]]
        renders = [r for w in windows for r in w["renders"]]
        fig = summarize(frames, renders, sum(w["duration_s"] for w in windows))
        cpu = _merge_cpu([w["cpu"] for w in windows])
        return {
            "name": target.name,
            "host": target.host,
            **{k: fig.pop(k) for k in ("fps", "latency_p50_ms", "latency_p95_ms")},
            "frames_dropped": fig.pop("frames_dropped"),
            "first_result_s": target.startup.get("first_result_s"),
            "cpu_pct": _cpu_text(cpu),
            "noisy": _noisy(cpu),
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
            _log(f"  {label}: {len(windows[label][-1]['renders'])} results")
        out = {}
        for label, target, *_ in configs:
            out[label] = self._row(target, windows[label], config=label)
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
        cpu = _merge_cpu([w["cpu"] for w in windows])
        stage = {
            k: _mean(r[k] for r in rows_all)
            for k in ("read", "segment", "inference", "overlay", "encode", "send")
        }
        return {
            "name": target.name,
            "host": target.host,
            "config": "ipywidgets.Image loop",
            "fps": round(shown / duration, 2) if duration else None,
            "latency_p50_ms": _pct(lat, 50),
            "latency_p95_ms": _pct(lat, 95),
            "frames_dropped": sent - shown,
            "first_result_s": None,
            "cpu_pct": _cpu_text(cpu),
            "noisy": _noisy(cpu),
            "loop_fps": round(sent / duration, 2) if duration else None,
            "frames_sent": sent,
            "frames_rendered": shown,
            "latency_mean_ms": _mean(lat),
            "latency_to_load_p50_ms": _pct(to_load, 50),
            "stages": stage,
            "upload_bytes": None,
            "download_bytes": _mean(r["bytes"] for r in rows_all),
            "cpu": cpu,
            "startup_s": target.startup,
            "method": "kernel loop: cv2.VideoCapture on the same clip, paced at its 30 fps like "
            "a camera, engine.segment, "
            "render_overlay, cv2.imencode, Image.value; fps = images loaded per second in the "
            "page; latency = the animation frame after the image loaded (page clock) - frame "
            "read (kernel wall clock, same machine). The loop blocks the kernel while it runs.",
        }


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import onnxruntime

    return {
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "chromium": chromium_path(),
    }


def prepare_engine() -> dict[str, Any]:
    """Load the fast profile once here, so its ONNX export is cached for the hosts' kernels."""
    from .engine import Engine

    t0 = time.perf_counter()
    engine = Engine("fast", "random")
    info = {"backend": engine.info["backend"], "load_s": round(time.perf_counter() - t0, 2)}
    del engine
    return info


def run_host(host: str, seconds: float) -> dict[str, Any]:
    """One host with the default settings: ``segwidget bench --e2e --host HOST``."""
    out: dict[str, Any] = {
        "kind": "segwidget-bench-e2e",
        "seconds": seconds,
        "machine": machine_info(),
        "engine": prepare_engine(),
    }
    with E2EBench(seconds) as bench:
        target = bench.open_page() if host == "page" else bench.open_widget(host)
        row = bench.measure(target)
        out["runs"] = [row]
    if row.get("noisy"):
        out["warning"] = (
            f"other jobs used {row['cpu']['outside']} % of a core during the measurement; "
            "measure again on a quiet machine"
        )
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def run_all(seconds: float, nodelay_trips: int = 100) -> dict[str, Any]:
    """Every host and every side-by-side experiment, in one run.

    About 2 minutes of start-ups plus 12 x ``seconds`` of measured windows (about 6 minutes
    with the default 15 s on 2 cores).
    """
    t_start = time.monotonic()
    out: dict[str, Any] = {
        "kind": "segwidget-bench-e2e",
        "seconds": seconds,
        "machine": machine_info(),
        "engine": prepare_engine(),
    }
    runs: list[dict] = []
    comparisons: list[dict] = []
    experiments: dict[str, Any] = {}
    with E2EBench(seconds) as bench:
        lab = bench.open_widget("lab", "JupyterLab")
        default = bench.measure(lab)
        runs.append({**default, "config": "default"})
        _log(f"JupyterLab default: {default['fps']} fps, p50 {default['latency_p50_ms']} ms")

        def knob(**traits):
            return lambda: lab.set(**traits)

        # (4) one vs two frames in flight
        res = bench.alternate(
            [
                ("max_in_flight=2", lab, knob(max_in_flight=2), lambda f: f["max_in_flight"] == 2),
                ("max_in_flight=1", lab, knob(max_in_flight=1), lambda f: f["max_in_flight"] == 1),
            ]
        )
        lab.set(max_in_flight=2)
        experiments["in_flight"] = res
        two, one = res["max_in_flight=2"], res["max_in_flight=1"]
        comparisons.append(_compare("in_flight", "two vs one frame in flight", two, one))

        # (5) client-side downscale vs full-resolution upload
        res = bench.alternate(
            [
                (
                    "upload_size=model",
                    lab,
                    knob(upload_size="model"),
                    lambda f: f["upload_size"] == "model",
                ),
                (
                    "upload_size=full",
                    lab,
                    knob(upload_size="full"),
                    lambda f: f["upload_size"] == "full",
                ),
            ]
        )
        lab.set(upload_size="model")
        experiments["upload_size"] = res
        model, full = res["upload_size=model"], res["upload_size=full"]
        c = _compare("upload_size", "downscaled in the browser vs full-size upload", model, full)
        c["bytes_ratio"] = _ratio(model["upload_bytes"], full["upload_bytes"])
        c["text"] += (
            f"; upload {model['upload_bytes']:.0f} vs {full['upload_bytes']:.0f} bytes per frame "
            f"({c['bytes_ratio']}x)"
        )
        comparisons.append(c)

        # (3) TCP_NODELAY on vs off: a second JupyterLab without the extension
        lab.set(running=False)
        off = bench.open_widget("lab", "JupyterLab, TCP_NODELAY off", server_args=[NODELAY_OFF])
        nodelay_status = _nodelay_status(lab), _nodelay_status(off)

        def only(active: Target, idle: Target) -> Callable[[], None]:
            def apply() -> None:
                idle.set(running=False)
                active.set(running=True)

            return apply

        res = bench.alternate(
            [
                ("nodelay on", lab, only(lab, off), lambda f: True),
                ("nodelay off", off, only(off, lab), lambda f: True),
            ]
        )
        experiments["nodelay"] = {**res, "extension_status": nodelay_status}
        comparisons.append(
            _compare(
                "nodelay",
                "TCP_NODELAY on vs off (JupyterLab)",
                res["nodelay on"],
                res["nodelay off"],
            )
        )
        off.set(running=False)
        off.close()
        bench.targets.remove(off)

        # ONNX Runtime's thread pool as segwidget sets it vs spinning (ORT's own default), with
        # Chromium on the same cores
        lab.set(running=False)
        spin = bench.open_widget("lab", "JupyterLab, ORT spinning", cells=ORT_SPIN_CELLS)
        settings = {}
        for label, t in (("segwidget ORT settings", lab), ("ORT spinning", spin)):
            try:
                t.probe.execute(ORT_SETTINGS_CODE)
                settings[label] = t.probe.eval("_segw_ort_threads()")
            except Exception as exc:
                settings[label] = f"unknown: {exc}"
        res = bench.alternate(
            [
                ("segwidget ORT settings", lab, only(lab, spin), lambda f: True),
                ("ORT spinning", spin, only(spin, lab), lambda f: True),
            ]
        )
        experiments["ort_spinning"] = {**res, "ort_thread_settings": settings}
        ours_setting = settings["segwidget ORT settings"]
        if isinstance(ours_setting, dict):
            ours_setting = f"allow_spinning {ours_setting.get('allow_spinning')}"
        comparisons.append(
            _compare(
                "ort_spinning",
                f"ONNX Runtime threads as segwidget sets them ({ours_setting}) vs spinning",
                res["segwidget ORT settings"],
                res["ORT spinning"],
            )
        )
        spin.set(running=False)
        spin.close()
        bench.targets.remove(spin)

        # (6) our widget vs the common notebook loop, in JupyterLab
        lab.set(running=False)
        base = bench.open_widget(
            "lab",
            "JupyterLab, notebook loop baseline",
            cells=BASELINE_CELLS,
            selector=".widget-image",
            wait_first=False,
        )
        ours_w: list[dict] = []
        base_w: list[dict] = []
        for turn in ("ours", "base", "base", "ours"):
            if turn == "ours":
                lab.set(running=True)
                bench.settle(lab)
                ours_w.append(bench.window(lab, seconds / 2))
                lab.set(running=False)
            else:
                base_w.append(bench.baseline_window(base, seconds / 2))
            _log(f"  baseline turn {turn} done")
        lab.set(running=True)
        bench.settle(lab)
        rtt = kernel_rtt(lab)
        lab.set(running=False)
        ours = bench._row(lab, ours_w, config="SegWidget", kernel_execute_ms_while_streaming=rtt)
        baseline = bench.baseline_row(base, base_w)
        experiments["baseline"] = {"SegWidget": ours, "notebook loop": baseline}
        comparisons.append(
            _compare("baseline", "SegWidget vs the ipywidgets.Image loop", ours, baseline)
        )
        base.close()
        bench.targets.remove(base)
        lab.set(running=True)
        lab.close()
        bench.targets.remove(lab)

        # the other hosts, default settings
        for host in ("voila", "page"):
            t = bench.open_page() if host == "page" else bench.open_widget(host)
            row = bench.measure(t)
            runs.append({**row, "config": "default"})
            _log(f"{t.name}: {row['fps']} fps, p50 {row['latency_p50_ms']} ms")
            t.close()
            bench.targets.remove(t)

    # kernel round trips, TCP_NODELAY on vs off (benchmarks/nodelay.py)
    rtt = nodelay_round_trips(nodelay_trips)
    experiments["nodelay_round_trip"] = rtt
    comparisons.append(
        {
            "name": "nodelay_round_trip",
            "ratio": rtt["off_over_on"],
            "text": "kernel execute round trip over the WebSocket: median "
            f"{rtt['on']['median_ms']} ms with TCP_NODELAY vs {rtt['off']['median_ms']} ms without "
            f"({rtt['off_over_on']}x)",
        }
    )
    rows_for_table = [*runs]
    for exp in ("in_flight", "upload_size", "nodelay", "ort_spinning"):
        for label, row in experiments[exp].items():
            if isinstance(row, dict) and "fps" in row:
                rows_for_table.append({**row, "name": f"{row['name']} [{label}]"})
    rows_for_table += [
        {**experiments["baseline"]["SegWidget"], "name": "JupyterLab [SegWidget]"},
        {**experiments["baseline"]["notebook loop"], "name": "JupyterLab [ipywidgets.Image loop]"},
    ]
    noisy = [r["name"] for r in rows_for_table if r.get("noisy")]
    if noisy:
        out["warning"] = (
            f"other jobs used more than {NOISY_OUTSIDE_PCT:g} % of a core during: "
            f"{', '.join(noisy)}; measure again on a quiet machine"
        )
    out.update(
        runs=rows_for_table,
        comparisons=comparisons,
        experiments=experiments,
        targets=_targets(runs[0]),
        total_s=round(time.monotonic() - t_start, 1),
    )
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def kernel_rtt(target: Target, n: int = 10) -> dict[str, float]:
    """Round trips of a tiny execution in the notebook's kernel while the widget streams (the
    kernel stays free for the user's cells; the notebook loop blocks it for its whole run)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        target.probe.execute("pass")
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(float(np.median(times)), 1), "max_ms": round(max(times), 1)}


def _nodelay_status(target: Target) -> Any:
    try:
        return target.widget_host.server.get_json("/segwidget/nodelay")
    except Exception as exc:
        return f"unavailable: {exc}"


def _compare(name: str, what: str, a: dict, b: dict) -> dict[str, Any]:
    """``a`` vs ``b`` as ratios a / b: FPS (above 1: a draws more) and p50 / p95 latency
    (below 1: a is faster)."""
    fps = _ratio(a["fps"], b["fps"])
    lat = _ratio(a["latency_p50_ms"], b["latency_p50_ms"])
    p95 = _ratio(a["latency_p95_ms"], b["latency_p95_ms"])
    return {
        "name": name,
        "noisy": bool(a.get("noisy") or b.get("noisy")),
        "fps_ratio": fps,
        "latency_p50_ratio": lat,
        "latency_p95_ratio": p95,
        "a": {k: a.get(k) for k in ("config", "fps", "latency_p50_ms", "latency_p95_ms")},
        "b": {k: b.get(k) for k in ("config", "fps", "latency_p50_ms", "latency_p95_ms")},
        "text": f"{what}: {a['fps']} vs {b['fps']} FPS ({fps}x), p50 latency "
        f"{a['latency_p50_ms']} vs {b['latency_p50_ms']} ms ({lat}x), p95 "
        f"{a['latency_p95_ms']} vs {b['latency_p95_ms']} ms ({p95}x)",
    }


def _targets(row: dict[str, Any]) -> dict[str, Any]:
    """Issue 5's end-to-end targets for JupyterLab, fast profile, default settings."""
    first = row.get("first_result_s")
    return {
        "fps_at_least_20": {"value": row["fps"], "met": bool(row["fps"] and row["fps"] >= 20)},
        "p50_latency_at_most_80_ms": {
            "value": row["latency_p50_ms"],
            "met": bool(row["latency_p50_ms"] and row["latency_p50_ms"] <= 80),
        },
        "first_result_at_most_5_s": {"value": first, "met": bool(first and first <= 5)},
    }


def nodelay_round_trips(n: int = 100, rounds: int = 4) -> dict[str, Any]:
    """Kernel execute round trips over a Jupyter Server's WebSocket, TCP_NODELAY on vs off.

    Two bare servers run side by side; ``rounds`` alternating batches of ``n / rounds``
    round trips each (on, off, off, on, ...), so both see the same machine state.
    """
    import asyncio

    from .e2e.jupyter import JupyterServer, kernel_round_trips

    times: dict[str, list[float]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="segwidget-nodelay-") as tmp:
        on = JupyterServer("server", Path(tmp) / "on").start()
        off = JupyterServer("server", Path(tmp) / "off", args=[NODELAY_OFF]).start()
        try:
            per = max(1, n // max(1, rounds // 2))  # each setting gets half the batches
            order = ["on", "off", "off", "on"] * ((rounds + 3) // 4)
            for label in order[:rounds]:
                server = on if label == "on" else off
                times[label] += asyncio.run(kernel_round_trips(server, per))
        finally:
            on.stop()
            off.stop()

    def summary(values: list[float]) -> dict[str, Any]:
        return {
            "n": len(values),
            "median_ms": round(float(np.median(values)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2),
            "mean_ms": round(float(np.mean(values)), 2),
        }

    res = {k: summary(v) for k, v in times.items()}
    res["off_over_on"] = _ratio(res["off"]["median_ms"], res["on"]["median_ms"])
    res["method"] = (
        "print(1) executed over the kernel WebSocket of a bare jupyter server, time to "
        "execute_reply and idle status; two servers (extension on / off) alternated"
    )
    res["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return res


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def requirements(hosts: Iterable[str]) -> str | None:
    """Why the end-to-end bench cannot run here, or None."""
    modules: list[str] = ["jupyter_client"]
    for host in hosts:
        modules += {
            "lab": ["jupyterlab"],
            "voila": ["voila"],
            "page": ["uvicorn", "fastapi"],
            "all": ["jupyterlab", "voila", "uvicorn", "fastapi", "ipywidgets"],
        }[host]
    return missing_requirements(*dict.fromkeys(modules))


def format_rows(result: dict[str, Any]) -> str:
    cols = [
        ("name", "run"),
        ("fps", "FPS"),
        ("latency_p50_ms", "p50 ms"),
        ("latency_p95_ms", "p95 ms"),
        ("frames_dropped", "dropped"),
        ("first_result_s", "first s"),
        ("cpu_pct", "CPU % of a core"),
    ]
    table = [[label for _, label in cols]]
    for r in result.get("runs", []):
        row = ["" if r.get(k) is None else str(r[k]) for k, _ in cols]
        if r.get("noisy"):
            row[0] += " (noisy)"
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in result.get("runs", [])[:1]:
        lines.append(
            "stages (ms): "
            + ", ".join(f"{k} {v}" for k, v in r.get("stages", {}).items() if v is not None)
        )
        lines.append(
            "latency parts (ms): "
            + ", ".join(f"{k} {v}" for k, v in r.get("latency_parts", {}).items() if v is not None)
        )
    for c in result.get("comparisons", []):
        lines.append(f"- {c['text']}" + (" (noisy)" if c.get("noisy") else ""))
    if result.get("warning"):
        lines.append(f"warning: {result['warning']}")
    lines.append(
        f"load average: {result['machine'].get('loadavg')} -> "
        f"{result['machine'].get('loadavg_end')}"
    )
    return "\n".join(lines)


def run_e2e(args: argparse.Namespace) -> int:
    """``segwidget bench --e2e``: returns the exit status (0 also when skipped, with why)."""
    everything = bool(getattr(args, "all", False))
    host = getattr(args, "host", "lab") or "lab"
    seconds = float(getattr(args, "seconds", None) or DEFAULT_SECONDS)
    why = requirements(["all"] if everything else [host])
    if why:
        msg = f"segwidget bench --e2e: skipped: {why}"
        print(msg, file=sys.stderr)
        if getattr(args, "json", False):
            print(json.dumps({"kind": "segwidget-bench-e2e", "skipped": why}))
        return 0
    result = run_all(seconds) if everything else run_host(host, seconds)
    out = getattr(args, "output", None)
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    if getattr(args, "json", False) and not out:
        print(json.dumps(result, indent=1))
    else:
        print(format_rows(result))
    return 0
