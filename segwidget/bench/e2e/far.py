"""``segwidget bench --e2e --rtt MS[,MS...] --rate-mbit R``: far from the kernel, measured.

The host (JupyterLab, or ``--host page``: ``segwidget serve``) runs behind the WAN emulation
of the harness (:mod:`segwidget.bench.harness.wan`): a proxy on 127.0.0.2 that adds the round
trip and caps the uplink at R Mbit/s (the downlink at ``--down-mbit``, default max(R, 20)),
so the page is not ``localhost`` and its frames go as JPEG, as from Colab. One host for the
whole run; for each round trip, two settings alternate in windows ordered A B B A:

- ``before``: ``max_in_flight=2, display="live"`` (the settings before issue 18);
- ``after``: ``max_in_flight="auto", display="auto"`` (the defaults now).

Each row: FPS drawn, p50 / p95 capture to render, results/s in the kernel (the widget's
session, counted in the kernel), the mean window and the share of results drawn aligned, and
with ``--profile person`` an alignment figure: the fake webcam is the astronaut cut out onto
green gliding at 160 px/s (:mod:`segwidget.bench.harness.glide`), the person class drawn
opaque, and ``aligned`` is the share of her shown pixels under the drawn mask, from
screenshots of the stage taken after each window.

``--scenario stall`` (after the rows): the link stalls for 3 s; the run says whether the
view showed the waiting state, whether it resumed by itself and how many results of frames
captured before the stall were drawn after it. ``--scenario drop``: the uplink drops from
the first ``--rate-mbit`` to 2 Mbit/s; the run says how long p50 (per second) took to get
back within the round trip + 150 ms. ``--rtt local``: no proxy at all, the page on
``localhost`` (raw frames): loopback before and after.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..harness.glide import GlideClip, alignment, custom_palette, make_glide_clip
from ..harness.video import sample_photos
from ..harness.wan import WanProxy
from .configs import HOST_NAMES, log, widget_cells
from .measure import E2EBench
from .report import mean, pct, summarize
from .runs import machine_info, prepare_engine

CONFIGS = {
    "before": {"max_in_flight": 2, "display": "live"},
    "after": {"max_in_flight": "auto", "display": "auto"},
}
#: results drawn with a config before its window starts (the auto window converges)
SETTLE = {"before": 10, "after": 45}
SHOTS = 4  # screenshots per window, for the alignment figure
LOOK = {"viz_mode": "filled", "opacity": 1.0, "show_fps": False, "show_legend": False}

JS_LINKS = "() => (window.__swlinks || []).splice(0)"
LINK_INIT = r"""(() => { const links = (window.__swlinks = []);
  document.addEventListener("segwidget:link", (e) => links.push(e.detail), true); })();"""


def glide_clip(path) -> GlideClip:
    """The astronaut cut out (the person profile's own mask of the photo) onto green."""
    from ...engine import get_engine

    photo = sample_photos()["astronaut"]
    engine = get_engine("person")
    mask = engine.segment(photo).mask_at(*photo.shape[:2]) == engine.labels.index("person")
    return make_glide_clip(path, photo, mask, engine.labels)


class FarHost:
    """One host behind the proxy, switched between the settings."""

    def __init__(
        self, bench: E2EBench, host: str, profile: str, proxy: Callable[[int], WanProxy] | None
    ):
        self.bench, self.host, self.profile = bench, host, profile
        name = f"{HOST_NAMES[host]} [{profile}, far]"
        look = dict(LOOK)
        if bench.clip is not None:
            look.update(
                colormap="custom",
                custom_palette=custom_palette(bench.clip.labels),
                class_filter=["person"],
            )
        if host == "page":  # the page takes no look from its URL: no alignment figure there
            self.target = bench.open_page(name, profile, proxy=proxy, init_scripts=[LINK_INIT])
        else:
            cells = widget_cells(profile, look)
            self.target = bench.open_widget(
                host, name, cells=cells, proxy=proxy, init_scripts=[LINK_INIT]
            )
        self.config: str | None = None

    @property
    def proxy(self) -> WanProxy:
        return self.target.proxy

    def apply(self, label: str) -> None:
        settings = CONFIGS[label]
        if self.host == "page":  # the page's settings are its URL's
            query = f"&in_flight={settings['max_in_flight']}&display={settings['display']}"
            self.bench.reload_page(self.target, query)
        else:
            self.target.set(**settings)
        self.config = label

    def settle(self, n: int) -> None:
        marker = max(
            (
                s
                for s, *_ in self.target.page.evaluate(
                    "() => window.__swperf.frames.map(f => [f.seq])"
                )
            ),
            default=0,
        )
        self.bench.settle(self.target, lambda f: f["seq"] > marker, n=n, timeout=180)

    def processed(self) -> tuple[int, float] | None:
        """Results the kernel's session has made so far, and the kernel's clock (s)."""
        if self.target.probe is None:
            return None
        return tuple(
            self.target.probe.eval(
                "(w._session.stats.frames_processed, __import__('time').perf_counter())"
            )
        )

    def window(self, seconds: float) -> dict[str, Any]:
        before = self.processed()
        w = self.bench.window(self.target, seconds)
        after = self.processed()
        if before and after and after[1] > before[1]:
            w["kernel_results_s"] = (after[0] - before[0]) / (after[1] - before[1])
        if self.target.probe is not None:  # what adaptive quality did, and why
            w["adapt"] = self.target.probe.eval(
                "dict(quality=w._session.quality(), reason=w.stats.get('adapt_reason'))"
            )
        return w

    def shots(self, clip: GlideClip, n: int = SHOTS) -> list[dict]:
        from PIL import Image

        out = []
        stage = self.target.page.locator(".sw-stage").first
        for _ in range(n):
            png = stage.screenshot(timeout=30000)
            got = alignment(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), clip)
            if got:
                out.append(got)
            time.sleep(0.25)  # spread over the clip's motion
        return out


def summarize_far(windows: list[dict], shots: list[dict]) -> dict[str, Any]:
    """One row's figures from its windows (and screenshots)."""
    frames = [f for w in windows for f in w["frames"]]
    renders = [r for w in windows for r in w["renders"]]
    duration = sum(w["duration_s"] for w in windows)
    lat = [float(r["latency_ms"]) for r in renders]
    rates = [w["kernel_results_s"] for w in windows if "kernel_results_s" in w]
    aligned = [r for r in renders if r.get("display") == "aligned"]
    covered = [s["covered"] for s in shots]
    return {
        "fps": round(len(renders) / duration, 2) if duration else None,
        "latency_p50_ms": pct(lat, 50),
        "latency_p95_ms": pct(lat, 95),
        "kernel_results_s": round(sum(rates) / len(rates), 2) if rates else None,
        "window_mean": mean(f.get("max_in_flight") for f in frames),
        "aligned_share": round(len(aligned) / len(renders), 3) if renders else None,
        "alignment": round(float(np.median(covered)), 4) if covered else None,
        "alignment_shots": covered,
        "upload_bytes": mean(f.get("bytes") for f in frames),
        # before send, network (round trip less the kernel's time), kernel, after receive
        "latency_parts": summarize(frames, renders, duration)["latency_parts"]
        if duration
        else None,
        "frames_sent": len(frames),
        "frames_rendered": len(renders),
        "duration_s": round(duration, 2),
        "adapt": [w["adapt"] for w in windows if "adapt" in w],
    }


def run_far(
    host: str,
    seconds: float,
    profile: str,
    rtts: list[float | None],
    rate_mbit: float,
    down_mbit: float | None = None,
    scenario: str | None = None,
) -> dict[str, Any]:
    """The rows (and the scenario) of ``segwidget bench --e2e --rtt``."""
    down = down_mbit or max(rate_mbit, 20.0)
    out: dict[str, Any] = {
        "kind": "segwidget-bench-e2e-far",
        "host": host,
        "profile": profile,
        "seconds": seconds,
        "rate_mbit": {"up": rate_mbit, "down": down},
        "machine": machine_info(),
        "engine": prepare_engine(profile),
        "rows": [],
    }
    with E2EBench(seconds) as bench:
        clip = None
        if profile == "person":
            clip = glide_clip(bench.workdir / "glide.y4m")
            bench.use_video(clip.video, clip)

        def proxy(port: int) -> WanProxy:
            return WanProxy(port, rtt_ms=rtts[0], up_mbit=rate_mbit, down_mbit=down).start()

        local = rtts == [None]  # loopback itself: localhost, no proxy (raw frames)
        far = FarHost(bench, host, profile, None if local else proxy)
        for rtt in rtts:
            if not local:
                far.proxy.set(rtt_ms=rtt, up_mbit=rate_mbit, down_mbit=down)
            windows: dict[str, list] = {k: [] for k in CONFIGS}
            shots: dict[str, list] = {k: [] for k in CONFIGS}
            for label in ["before", "after", "after", "before"]:
                far.apply(label)
                far.settle(SETTLE[label])
                windows[label].append(far.window(seconds / 2))
                if clip is not None and host != "page":
                    shots[label] += far.shots(clip)
            for label in CONFIGS:
                row = {"rtt_ms": rtt, "rate_mbit": None if local else rate_mbit, "config": label}
                row.update(summarize_far(windows[label], shots[label]))
                out["rows"].append(row)
                where = "localhost" if local else f"rtt {rtt:g} ms, {rate_mbit:g} Mbit/s"
                log(f"{where}, {label}: {_short(row)}")
        if scenario and not local:
            far.apply("after")
            out["scenario"] = (stall if scenario == "stall" else drop)(far, rtts[-1], rate_mbit)
        out["carried"] = None if local else far.proxy.carried()
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["targets"] = far_targets(out["rows"])
    return out


def _short(row: dict) -> str:
    return (
        f"FPS {row['fps']}, p50 {row['latency_p50_ms']} / p95 {row['latency_p95_ms']} ms, "
        f"kernel {row['kernel_results_s']}/s, window {row['window_mean']}, "
        f"aligned {row['aligned_share']}, alignment {row['alignment']}"
    )


def stall(far: FarHost, rtt: float, rate: float, seconds: float = 3.0) -> dict[str, Any]:
    """A 3 s stall: waiting shown, resumed by itself, stale results drawn after it."""
    page = far.target.page
    far.settle(SETTLE["after"])
    page.evaluate(JS_LINKS)
    t0 = page.evaluate("() => performance.timeOrigin + performance.now()")
    page.evaluate("() => { window.__swperf.renders.length = 0; }")
    far.proxy.stall(seconds)
    time.sleep(seconds + 6 + 2 * rtt / 1000)  # the stall, then time to resume
    links = page.evaluate(JS_LINKS)
    renders = page.evaluate("() => window.__swperf.renders.splice(0)")
    resumed = next((x["t"] for x in links if x["state"] == "live"), None)
    after = [r for r in renders if r["t_rendered"] > t0 + seconds * 1000]
    stale = [r for r in after if r["t_capture"] < t0 + seconds * 1000 - rtt]
    return {
        "kind": "stall",
        "stall_s": seconds,
        "links": [x["state"] for x in links],
        "waiting_shown": any(x["state"] == "waiting" for x in links),
        "resumed": resumed is not None or bool(after),
        "results_after": len(after),
        "stale_results_drawn_after": len(stale),
        "first_result_after_stall_ms": round(
            min(r["t_rendered"] for r in after) - t0 - seconds * 1000
        )
        if after
        else None,
    }


def drop(far: FarHost, rtt: float, rate: float, to_mbit: float = 2.0) -> dict[str, Any]:
    """The uplink drops to ``to_mbit``: p50 per second until it is within rtt + 150 ms."""
    page = far.target.page
    far.settle(SETTLE["after"])
    page.evaluate("() => { window.__swperf.renders.length = 0; }")
    t0 = page.evaluate("() => performance.timeOrigin + performance.now()")
    far.proxy.set(up_mbit=to_mbit)
    time.sleep(20)
    renders = page.evaluate("() => window.__swperf.renders.splice(0)")
    far.proxy.set(up_mbit=rate)
    per_s: list[float | None] = []
    for k in range(20):
        lat = [
            r["latency_ms"]
            for r in renders
            if t0 + k * 1000 <= r["t_rendered"] < t0 + (k + 1) * 1000
        ]
        per_s.append(pct(lat, 50))
    bound = rtt + 150
    back = next(
        (k for k in range(20) if all(v is not None and v <= bound for v in per_s[k : k + 3])), None
    )
    return {
        "kind": "drop",
        "from_mbit": rate,
        "to_mbit": to_mbit,
        "p50_per_s_ms": per_s,
        "bound_ms": bound,
        "back_within_s": back,
        "met": back is not None and back <= 10,
    }


def far_targets(rows: list[dict]) -> dict[str, Any]:
    """Issue 18's targets, where the rows measured them."""
    after = {r["rtt_ms"]: r for r in rows if r["config"] == "after" and r["rtt_ms"] is not None}
    out: dict[str, Any] = {}
    zero = after.get(0) or after.get(0.0)
    for rtt in (100, 200):
        r = after.get(rtt)
        if not r:
            continue
        if zero and r["rate_mbit"] >= 20 and zero.get("kernel_results_s"):
            share = r["kernel_results_s"] / zero["kernel_results_s"] if r["kernel_results_s"] else 0
            out[f"results_s_{rtt}ms_vs_0ms"] = {"value": round(share, 2), "met": share >= 0.9}
        bound = rtt + (60 if r["rate_mbit"] >= 20 else 150)
        p50 = r["latency_p50_ms"]
        out[f"p50_{rtt}ms_at_{r['rate_mbit']:g}mbit"] = {
            "value": p50,
            "bound": bound,
            "met": bool(p50 is not None and p50 <= bound),
        }
        if rtt == 200 and r.get("alignment") is not None:
            out["alignment_200ms"] = {"value": r["alignment"], "met": r["alignment"] >= 0.97}
    return out


def format_far(result: dict[str, Any]) -> str:
    """The rows as a table, the targets and the scenario."""
    head = [
        "rtt ms",
        "Mbit/s",
        "config",
        "FPS",
        "p50 ms",
        "p95 ms",
        "kernel/s",
        "window",
        "aligned",
        "alignment",
    ]
    keys = [
        "rtt_ms",
        "rate_mbit",
        "config",
        "fps",
        "latency_p50_ms",
        "latency_p95_ms",
        "kernel_results_s",
        "window_mean",
        "aligned_share",
        "alignment",
    ]
    rows = [
        [
            (
                ""
                if r.get(k) is None
                else f"{r[k]:g}"
                if isinstance(r[k], float | int)
                else str(r[k])
            )
            for k in keys
        ]
        for r in result["rows"]
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    for name, t in result.get("targets", {}).items():
        lines.append(f"target {name}: {t['value']} -> {'met' if t['met'] else 'NOT met'}")
    if result.get("scenario"):
        lines.append(f"scenario: {result['scenario']}")
    m = result["machine"]
    lines.append(f"load average {m['loadavg']} -> {m.get('loadavg_end')}")
    return "\n".join(lines)
