"""The runs of ``segwidget bench --e2e``: one host, or every host and experiment in one go."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..harness import NODELAY_OFF, chromium_path
from ..targets import (
    model_alone,
    serve_rss_mb,
    small_machine,
    target_rss_mb,
)
from .configs import (
    BASELINE_CELLS,
    HOST_NAMES,
    NOISY_OUTSIDE_PCT,
    ORT_ONE_THREAD_CELLS,
    ORT_SETTINGS_CODE,
    ORT_SPIN_CELLS,
    log,
    widget_cells,
)
from .measure import E2EBench, Target
from .render_paths import compare_renderers
from .report import compare, compare_cpu, e2e_targets, ratio


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


def prepare_engine(profile: str = "fast") -> dict[str, Any]:
    """Load the profile once here, so its ONNX export is cached for the hosts' kernels."""
    from ...engine import Engine

    t0 = time.perf_counter()
    engine = Engine(profile, "random")
    info = {"backend": engine.info["backend"], "load_s": round(time.perf_counter() - t0, 2)}
    del engine
    return info


def run_host(host: str, seconds: float, profile: str = "fast") -> dict[str, Any]:
    """One host with the default settings: ``segwidget bench --e2e --host HOST [--profile P]``
    (the targets are the fast profile's; another profile's are printed against its own model
    alone)."""
    out: dict[str, Any] = {
        "kind": "segwidget-bench-e2e",
        "seconds": seconds,
        "profile": profile,
        "machine": machine_info(),
        "engine": prepare_engine(profile),
    }
    model, serve = _before_the_browser(host != "page", profile)
    with E2EBench(seconds) as bench:
        name = None if profile == "fast" else f"{HOST_NAMES[host]} [{profile}]"
        if host == "page":
            target = bench.open_page(name, profile=profile)
        else:
            target = bench.open_widget(host, name, cells=widget_cells(profile))
        row = bench.measure(target)
        out["runs"] = [row]
        memory = {"serve": serve, **target_rss_mb(target)}
    out["small_machine"] = small_machine(row, alone_at(row, model, profile), memory)
    if row.get("noisy"):
        out["warning"] = (
            f"other jobs used {row['cpu']['outside']} % of a core during the measurement; "
            "measure again on a quiet machine"
        )
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _before_the_browser(
    serve: bool = True, profile: str = "fast"
) -> tuple[dict[str, Any], float | None]:
    """The model alone at the loop's upload size, and a ``segwidget serve`` process's
    memory, measured in this run before Chromium starts (the targets' references)."""
    log("measuring the model alone and a serve process's memory ...")
    return model_alone(profile=profile), serve_rss_mb() if serve else None


SHOWN_WIDTH = "640px"  # the fake camera's own width


def any_frame(_frame: dict) -> bool:
    return True


def alone_at(row: dict[str, Any], alone: dict[str, Any], profile: str = "fast") -> dict:
    """The model alone at the size ``row`` mostly ran at: adaptive quality may have stepped it
    below the size measured before the browser, and the targets compare equal sizes. Call it
    with the browser closed."""
    size = row.get("upload_size")
    if not size or size == alone.get("frame"):
        return alone
    width, height = (int(v) for v in size.split("x"))
    log(f"measuring the model alone at {size}, the size the loop ran at ...")
    return model_alone(width, height, profile=profile)


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
    alone, serve = _before_the_browser()
    with E2EBench(seconds) as bench:
        lab = bench.open_widget("lab", "JupyterLab")
        default = bench.measure(lab)
        runs.append({**default, "config": "default"})
        memory = {"serve": serve, **target_rss_mb(lab)}
        log(f"JupyterLab default: {default['fps']} fps, p50 {default['latency_p50_ms']} ms")
        # Every pair below runs at one quality level (adaptive quality off: the full input
        # size), so a pair differs only in what it compares. With adaptation on, a row ran at
        # whatever size earlier rows had left the controller at: one quiet run measured this
        # same default configuration at 14.4 FPS (320x240) first and 21.0 FPS (192x144) later.
        lab.set(adapt=False)

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
        comparisons.append(compare("in_flight", "two vs one frame in flight", two, one))

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
        c = compare("upload_size", "downscaled in the browser vs full-size upload", model, full)
        c["bytes_ratio"] = ratio(model["upload_bytes"], full["upload_bytes"])
        c["text"] += (
            f"; upload {model['upload_bytes']:.0f} vs {full['upload_bytes']:.0f} bytes per frame "
            f"({c['bytes_ratio']}x)"
        )
        comparisons.append(c)

        # raw I420 frames and raw masks (loopback) vs JPEG and deflate
        res = bench.alternate(
            [
                ("i420", lab, knob(frame_encoding="i420"), lambda f: f.get("encoding") == "i420"),
                ("jpeg", lab, knob(frame_encoding="jpeg"), lambda f: f.get("encoding") == "jpeg"),
            ]
        )
        lab.set(frame_encoding="auto")
        experiments["frame_encoding"] = res
        comparisons.append(compare_cpu("frame_encoding", "raw I420 vs JPEG frames", res))

        # adaptive quality on vs off
        res = bench.alternate(
            [
                ("adapt on", lab, knob(adapt=True), lambda f: True),
                ("adapt off", lab, knob(adapt=False), lambda f: True),
            ]
        )
        lab.set(adapt=False)
        experiments["adapt"] = res
        comparisons.append(compare_cpu("adapt", "adaptive quality on vs off", res))

        # the video under an overlay drawn per result vs every video frame drawn on a canvas
        experiments["renderer"], c = compare_renderers(bench, lab, ("auto", "canvas"))
        comparisons.append(c)

        # the camera shown at its own width vs the cell's: Chromium composites every camera
        # frame at the size shown (in software where there is no GPU), however often results come
        res = bench.alternate(
            [
                (f"shown {SHOWN_WIDTH}", lab, knob(**{"layout.max_width": SHOWN_WIDTH}), any_frame),
                ("shown full width", lab, knob(**{"layout.max_width": None}), any_frame),
            ]
        )
        lab.set(**{"layout.max_width": None})
        experiments["display"] = res
        comparisons.append(
            compare_cpu("display", f"camera shown {SHOWN_WIDTH} wide vs the cell's width", res)
        )

        # (3) TCP_NODELAY on vs off: a second JupyterLab without the extension
        lab.set(running=False)
        off = bench.open_widget("lab", "JupyterLab, TCP_NODELAY off", server_args=[NODELAY_OFF])
        off.set(adapt=False)
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
            compare(
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
        spin.set(adapt=False)
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
            compare(
                "ort_spinning",
                f"ONNX Runtime threads as segwidget sets them ({ours_setting}) vs spinning",
                res["segwidget ORT settings"],
                res["ORT spinning"],
            )
        )
        spin.set(running=False)
        spin.close()
        bench.targets.remove(spin)

        # one ONNX Runtime intra-op thread vs one per core, with Chromium on the same cores
        one = bench.open_widget("lab", "JupyterLab, ORT 1 thread", cells=ORT_ONE_THREAD_CELLS)
        one.set(adapt=False)
        res = bench.alternate(
            [
                ("ORT 1 per core", lab, only(lab, one), lambda f: True),
                ("ORT 1 thread", one, only(one, lab), lambda f: True),
            ]
        )
        experiments["ort_threads"] = res
        text = f"ONNX Runtime intra-op threads: one per core ({os.cpu_count()}) vs 1"
        comparisons.append(compare_cpu("ort_threads", text, res))
        one.set(running=False)
        one.close()
        bench.targets.remove(one)

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
            log(f"  baseline turn {turn} done")
        lab.set(running=True)
        bench.settle(lab)
        rtt = kernel_rtt(lab)
        lab.set(running=False)
        ours = bench.row(lab, ours_w, config="SegWidget", kernel_execute_ms_while_streaming=rtt)
        baseline = bench.baseline_row(base, base_w)
        experiments["baseline"] = {"SegWidget": ours, "notebook loop": baseline}
        comparisons.append(
            compare("baseline", "SegWidget vs the ipywidgets.Image loop", ours, baseline)
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
            log(f"{t.name}: {row['fps']} fps, p50 {row['latency_p50_ms']} ms")
            t.close()
            bench.targets.remove(t)

    small = small_machine(default, alone_at(default, alone), memory)

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
    for exp in (
        "in_flight",
        "upload_size",
        "frame_encoding",
        "adapt",
        "renderer",
        "display",
        "nodelay",
        "ort_spinning",
        "ort_threads",
    ):
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
        targets=e2e_targets(runs[0]),
        small_machine=small,
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


def nodelay_round_trips(n: int = 100, rounds: int = 4) -> dict[str, Any]:
    """Kernel execute round trips over a Jupyter Server's WebSocket, TCP_NODELAY on vs off.

    Two bare servers run side by side; ``rounds`` alternating batches of ``n / rounds``
    round trips each (on, off, off, on, ...), so both see the same machine state.
    """
    import asyncio

    from ..harness.jupyter import JupyterServer, kernel_round_trips

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
    res["off_over_on"] = ratio(res["off"]["median_ms"], res["on"]["median_ms"])
    res["method"] = (
        "print(1) executed over the kernel WebSocket of a bare jupyter server, time to "
        "execute_reply and idle status; two servers (extension on / off) alternated"
    )
    res["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return res
