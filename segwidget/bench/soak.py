"""``segwidget bench --soak SECONDS``: stream for a long time and watch for decay.

The real widget in JupyterLab (``--host lab``) or the page of ``segwidget serve`` with
``--clients N`` browser tabs (``--host page``) streams the fake webcam in headless Chromium,
through the end-to-end bench's harness (:class:`~segwidget.bench.e2e.measure.E2EBench`).
Every ``SAMPLE_S`` seconds it samples, per tab, the FPS and p50/p95 latency drawn in the
browser (the view's per-frame events) and Chromium's JS heap after a garbage collection
(DevTools ``Runtime.getHeapUsage``), and, for the kernel or server process, its RSS,
threads and open files (``/proc``), and GPU memory where ``nvidia-smi`` answers.

It passes (:func:`verdict`) when, after the first ``WINDOW_S`` (5 minutes; a third of a
shorter soak), RSS and JS heap grew by under ``MAX_GROWTH_MB`` (20 MB), the FPS of the last
window is at least ``MIN_FPS_RATIO`` (95 %) of the first window after warm-up, and no error
was seen (page errors, console errors, error banners). Each row also records the CPU that
processes outside the soak used (``outside_cpu``, % of one core): when that differs between
the two windows by more than ``MAX_OUTSIDE_SHIFT`` the FPS comparison is reported as
inconclusive instead of judged, since on a small machine other jobs move FPS more than decay.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .e2e.configs import JS_MARK, JS_TAKE, log
from .e2e.report import summarize
from .harness.procstat import CpuMeter, cmdline, descendants, process_memory

SAMPLE_S = 10.0
WINDOW_S = 300.0
WARMUP_S = 30.0
MAX_GROWTH_MB = 20.0
MIN_FPS_RATIO = 0.95
MAX_OUTSIDE_SHIFT = 25.0  # % of one core


def windows(duration_s: float) -> tuple[float, float]:
    """(warm-up, window) for a soak of ``duration_s``: 30 s and 5 min, less when short."""
    window = min(WINDOW_S, duration_s / 3)
    return min(WARMUP_S, window / 2), window


def verdict(samples: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    """The pass criteria over ``samples`` (each with ``t_s``, ``fps``, ``rss_mb``,
    ``heap_mb``, ``errors``); a criterion with no data fails, saying so."""
    warmup, window = windows(duration_s)
    first = [s for s in samples if warmup < s["t_s"] <= warmup + window]
    last = [s for s in samples if s["t_s"] > duration_s - window]
    after = [s for s in samples if s["t_s"] >= window]

    def avg(rows: list[dict], key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(sum(vals) / len(vals), 2) if vals else None

    def growth(key: str) -> float | None:
        vals = [s[key] for s in after if s.get(key) is not None]
        return round(vals[-1] - vals[0], 2) if len(vals) >= 2 else None

    fps_first, fps_last = avg(first, "fps"), avg(last, "fps")
    ratio = round(fps_last / fps_first, 3) if fps_first and fps_last is not None else None
    errors = sum(s.get("errors", 0) for s in samples)
    outside = (avg(first, "outside_cpu"), avg(last, "outside_cpu"))
    checks = {
        "rss_growth_mb": growth("rss_mb"),
        "heap_growth_mb": growth("heap_mb"),
        "fps_first": fps_first,
        "fps_last": fps_last,
        "fps_ratio": ratio,
        "outside_cpu_first": outside[0],
        "outside_cpu_last": outside[1],
        "errors": errors,
    }
    inconclusive = []
    if None not in outside and abs(outside[1] - outside[0]) > MAX_OUTSIDE_SHIFT:
        inconclusive.append(
            f"fps_ratio {ratio} not judged: other processes used {outside[0]:g} -> "
            f"{outside[1]:g} % of a core in the first and last windows"
        )
    failures = []
    for key in ("rss_growth_mb", "heap_growth_mb"):
        if checks[key] is None:
            failures.append(f"{key}: no data")
        elif checks[key] >= MAX_GROWTH_MB:
            failures.append(f"{key} {checks[key]} >= {MAX_GROWTH_MB}")
    if ratio is None:
        failures.append("fps_ratio: no data")
    elif inconclusive:
        pass
    elif ratio < MIN_FPS_RATIO:
        failures.append(f"fps_ratio {ratio} < {MIN_FPS_RATIO}")
    if errors:
        failures.append(f"{errors} error(s)")
    return {
        **checks,
        "warmup_s": warmup,
        "window_s": window,
        "passed": not failures and not inconclusive,
        "failures": failures,
        "inconclusive": inconclusive,
    }


def gpu_memory_mb(pid: int) -> float | None:
    """GPU memory ``pid`` holds according to ``nvidia-smi``, or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    used = [
        float(m)
        for p, m in (line.split(",") for line in out.splitlines() if "," in line)
        if int(p) == pid
    ]
    return sum(used) if used else 0.0


# Every error banner the views show now: [code, message] (js/src/banner.js).
JS_BANNERS = """() => Array.from(document.querySelectorAll('.segwidget [role=alert]'))
  .filter((e) => !e.hidden).map((e) => [e.querySelector('.sw-banner-code')?.textContent || '',
  e.querySelector('.sw-banner-text')?.textContent || ''])"""


class ErrorLog:
    """Errors seen in the pages: uncaught exceptions, segwidget's console errors, banners."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._banners: set[tuple[str, str]] = set()
        self._taken = 0

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.events.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.events.append(f"console: {msg.text}")
                if msg.type == "error" and "segwidget" in msg.text
                else None
            ),
        )

    def banners(self, page: Any) -> None:
        for code, message in page.evaluate(JS_BANNERS):
            if (code, message) not in self._banners:
                self._banners.add((code, message))
                self.events.append(f"banner {code}: {message}")

    def take(self) -> list[str]:
        new = self.events[self._taken :]
        self._taken = len(self.events)
        return new


def heap_mb(cdp: Any) -> float:
    """The page's used JS heap after a full garbage collection (DevTools protocol)."""
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6


def served_pid(target: Any) -> int:
    """The process that segments: the notebook's kernel, or the ``segwidget serve`` server."""
    if target.host == "page":
        return target.server_pid
    for pid in descendants(target.server_pid):
        if pid != target.server_pid and any("ipykernel" in a for a in cmdline(pid)):
            return pid
    raise RuntimeError(f"{target.name}: no kernel process under the server")


def sample(
    targets: list[Any],
    marks: list[float],
    cdps: list[Any],
    pid: int,
    errors: ErrorLog,
    t_s: float,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """One row: the stream's figures since the previous row, and memory now. ``meter``
    (started at the previous row) gives the CPU used outside the soak since then."""
    frames, renders, fps = [], [], []
    duration = 0.0
    for i, target in enumerate(targets):
        got = target.page.evaluate(JS_TAKE)
        took = (got["now"] - marks[i]) / 1000
        marks[i] = got["now"]
        fig = summarize(got["frames"], got["renders"], took)
        fps.append(fig["fps"] or 0.0)
        frames += got["frames"]
        renders += got["renders"]
        duration = max(duration, took)
        errors.banners(target.page)
    fig = summarize(frames, renders, duration)
    mem = process_memory(pid)
    outside = None
    if meter is not None:
        outside = meter.stop()["outside"]
        meter.start()
    return {
        "t_s": round(t_s, 1),
        "fps": round(sum(fps), 2),
        "fps_per_client": fps,
        "latency_p50_ms": fig["latency_p50_ms"],
        "latency_p95_ms": fig["latency_p95_ms"],
        "rss_mb": mem["rss_mb"],
        "threads": mem["threads"],
        "open_files": mem["open_files"],
        "heap_mb": round(sum(heap_mb(c) for c in cdps), 2),
        "gpu_mb": gpu_memory_mb(pid),
        "outside_cpu": outside,
        "errors": len(new := errors.take()),
        "error_texts": new[:5],
    }


COLUMNS = [
    ("t_s", "t (s)"),
    ("fps", "FPS"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("rss_mb", "RSS MB"),
    ("threads", "threads"),
    ("open_files", "files"),
    ("heap_mb", "JS heap MB"),
    ("gpu_mb", "GPU MB"),
    ("outside_cpu", "others %"),
    ("errors", "errors"),
]


def format_row(row: dict[str, Any]) -> str:
    return "  ".join(f"{'-' if row.get(k) is None else row[k]!s:>{len(h)}}" for k, h in COLUMNS)


def header() -> str:
    return "  ".join(h for _, h in COLUMNS)


def run_soak(
    seconds: float,
    host: str = "lab",
    clients: int = 1,
    interval: float = SAMPLE_S,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Stream for ``seconds``, sample every ``interval`` s, and judge (:func:`verdict`)."""
    from .e2e.measure import E2EBench
    from .e2e.runs import machine_info, prepare_engine

    out: dict[str, Any] = {
        "kind": "segwidget-bench-soak",
        "host": host,
        "clients": clients if host == "page" else 1,
        "seconds": seconds,
        "interval_s": interval,
        "machine": machine_info(),
        "engine": prepare_engine(),
    }
    samples: list[dict[str, Any]] = []
    errors = ErrorLog()
    with E2EBench(seconds) as bench:
        if host == "page":
            first = bench.open_page()
            targets = [first] + [bench.open_client(first) for _ in range(clients - 1)]
        else:
            targets = [bench.open_widget(host)]
        pid = served_pid(targets[0])
        for target in targets:
            errors.watch(target.page)
        cdps = [t.page.context.new_cdp_session(t.page) for t in targets]
        marks = [t.page.evaluate(JS_MARK) for t in targets]
        log(f"soak: {seconds:g} s on {targets[0].name} x{len(targets)}, a row every {interval:g} s")
        print(header(), flush=True)
        meter = CpuMeter().start()
        t0 = time.monotonic()
        due = t0
        while True:
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))  # the sampling period itself
            row = sample(targets, marks, cdps, pid, errors, time.monotonic() - t0, meter)
            samples.append(row)
            print(format_row(row), flush=True)
            for text in row["error_texts"]:
                print(f"    {text}", flush=True)
            if row["t_s"] >= seconds:
                break
        out["startup_s"] = targets[0].startup
    out["samples"] = samples
    out["verdict"] = verdict(samples, seconds)
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if plot is not None:
        write_plot(out, plot)
        out["plot"] = str(plot)
    return out


def write_plot(result: dict[str, Any], path: Path) -> None:
    """FPS, latency and memory over time, one panel each (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["samples"]
    t = [r["t_s"] / 60 for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [r["fps"] for r in rows], label="FPS drawn (all clients)")
    axes[0].set_ylabel("FPS")
    axes[0].set_ylim(bottom=0)
    if any(r.get("outside_cpu") is not None for r in rows):
        # other jobs on the machine: the first thing to rule out when FPS moves
        other = axes[0].twinx()
        other.plot(t, [r.get("outside_cpu") for r in rows], color="grey", alpha=0.6, lw=1)
        other.set_ylabel("other processes' CPU (% of a core)", color="grey", fontsize=8)
        other.set_ylim(bottom=0)
    for key, label in (("latency_p50_ms", "p50"), ("latency_p95_ms", "p95")):
        axes[1].plot(t, [r[key] for r in rows], label=label)
    axes[1].set_ylabel("latency (ms)")
    axes[1].set_ylim(bottom=0)
    served = "server" if result["host"] == "page" else "kernel"
    axes[2].plot(t, [r["rss_mb"] for r in rows], label=f"{served} RSS")
    axes[2].plot(t, [r["heap_mb"] for r in rows], label="Chromium JS heap (after GC)")
    if any(r.get("gpu_mb") for r in rows):
        axes[2].plot(t, [r["gpu_mb"] for r in rows], label="GPU memory")
    axes[2].set_ylabel("MB")
    axes[2].set_xlabel("minutes")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    v = result["verdict"]
    clients = f", {result['clients']} clients" if result["host"] == "page" else ""
    fig.suptitle(
        f"segwidget soak: {result['host']}{clients}, {result['seconds'] / 60:.1f} min: "
        + verdict_word(v),
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_verdict(v: dict[str, Any]) -> str:
    return (
        f"after {v['window_s']:.0f} s: RSS {v['rss_growth_mb']} MB, JS heap "
        f"{v['heap_growth_mb']} MB (limit {MAX_GROWTH_MB:g}); FPS first {v['fps_first']} -> "
        f"last {v['fps_last']} (ratio {v['fps_ratio']}, min {MIN_FPS_RATIO}); errors "
        f"{v['errors']}: " + verdict_word(v)
    )


def verdict_word(v: dict[str, Any]) -> str:
    """PASS, FAIL with the failures, or INCONCLUSIVE with the reason."""
    if v["failures"]:
        return "FAIL: " + "; ".join(v["failures"] + v.get("inconclusive", []))
    if v.get("inconclusive"):
        return "INCONCLUSIVE: " + "; ".join(v["inconclusive"])
    return "PASS"


def run_soak_cli(args: Any) -> int:
    """``segwidget bench --soak SECONDS``: 0 when it passes (or is skipped, saying why)."""
    from .e2e import requirements

    host = getattr(args, "host", "lab") or "lab"
    seconds = float(args.soak)
    if seconds < 3 * SAMPLE_S:
        print(f"segwidget bench --soak: give at least {3 * SAMPLE_S:g} seconds", file=sys.stderr)
        return 2
    why = requirements([host])
    if why:
        print(f"segwidget bench --soak: skipped: {why}", file=sys.stderr)
        return 0
    clients = max(1, int(getattr(args, "clients", 1) or 1))
    plot = Path(args.plot) if getattr(args, "plot", None) else None
    result = run_soak(seconds, host, clients, plot=plot)
    if getattr(args, "output", None):
        Path(args.output).write_text(json.dumps(result, indent=1))
    elif getattr(args, "json", False):
        print(json.dumps(result, indent=1))
    print(format_verdict(result["verdict"]))
    return 0 if result["verdict"]["passed"] else 1
