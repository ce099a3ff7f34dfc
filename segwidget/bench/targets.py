"""The small-machine targets of ``segwidget bench --e2e``: each figure, its target, met or not.

The loop is judged against the model alone, measured in the same run on the same input size
(``Engine.segment``), so the ratios hold on a slower or busier machine; memory is the
resident set of a ``segwidget serve`` process and of a kernel after ``SegWidget()``, with the
fast profile loaded from a cached export.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

#: Limits, as the issue states them.
FPS_OF_MODEL = 0.7  # loop FPS >= 0.7 x min(CAMERA_FPS, model-alone FPS)
CAMERA_FPS = 30.0
LATENCY_OF_MODEL = 2.0  # p50 latency <= 2 x model-alone p50 + LATENCY_SLACK_MS
LATENCY_SLACK_MS = 20.0
CHROMIUM_OF_MODEL = 0.5  # Chromium CPU ms per rendered frame <= 0.5 x model-alone p50
RSS_LIMIT_MB = 350.0
#: The camera-rate check applies where the model alone is this many times the camera's rate.
FAST_MACHINE = 2.0
CAMERA_FPS_SHORTFALL = 0.9

RSS_PROBE = (
    "int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024"
)


def rss_mb(pid: int | None = None) -> float | None:
    """Resident memory of ``pid`` (default: this process) in MB, from /proc; None elsewhere."""
    try:
        text = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def model_alone(
    width: int = 320, height: int = 240, frames: int = 60, profile: str = "fast"
) -> dict[str, Any]:
    """``Engine.segment`` on a ``width x height`` frame (the loop's upload), back to back, at
    the model input size the loop uses for it: adaptive quality sends a smaller frame and runs
    the model at that long side (shipped models keep their fixed size)."""
    from ..engine import Engine

    engine = Engine(profile, "random")
    size = min(max(width, height), engine.input_size)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    for _ in range(5):
        engine.segment(frame, size=size)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        engine.segment(frame, size=size)
        times.append((time.perf_counter() - t0) * 1000)
    p50 = float(np.median(times))
    h, w = engine.model_hw(height, width, size)
    return {
        "p50_ms": round(p50, 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "fps": round(1000 / p50, 2),
        "frame": f"{width}x{height}",
        "model_input": f"{w}x{h}",
        "frames": frames,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_rss_mb(profile: str = "fast", timeout: float = 180.0) -> float | None:
    """Resident memory of a ``segwidget serve`` process once it serves ``profile``."""
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "segwidget.cli", "serve", "--port", str(port)]
    cmd += ["--profile", profile, "--weights", "random"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return rss_mb(proc.pid)
            except OSError:
                time.sleep(0.2)  # polling a child's port: no event to wait on
        return None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def chromium_ms_per_frame(row: dict[str, Any]) -> float | None:
    """Chromium's CPU time per rendered frame (ms) of a bench row."""
    chromium = (row.get("cpu") or {}).get("chromium_total")
    fps = row.get("fps")
    return round(chromium * 10 / fps, 1) if chromium is not None and fps else None


def _target(name: str, value: float | None, limit: float | None, at_most: bool, text: str):
    met = (
        None if value is None or limit is None else (value <= limit if at_most else value >= limit)
    )
    return {
        "name": name,
        "value": None if value is None else round(value, 2),
        "limit": None if limit is None else round(limit, 2),
        "op": "<=" if at_most else ">=",
        "met": met,
        "text": text,
    }


def evaluate(
    row: dict[str, Any], model: dict[str, Any], memory: dict[str, float | None]
) -> list[dict[str, Any]]:
    """Each target: its figure (``value``), its ``limit`` and whether it is ``met`` (None:
    not measured or not applicable)."""
    fps, p50 = row.get("fps"), row.get("latency_p50_ms")
    m_fps, m_p50 = model.get("fps"), model.get("p50_ms")
    per_frame = chromium_ms_per_frame(row)
    out = [
        _target(
            "loop_fps",
            fps,
            FPS_OF_MODEL * min(CAMERA_FPS, m_fps) if m_fps else None,
            False,
            f"loop FPS >= {FPS_OF_MODEL} x min({CAMERA_FPS:g}, model-alone FPS {m_fps})",
        ),
        _target(
            "latency_p50_ms",
            p50,
            LATENCY_OF_MODEL * m_p50 + LATENCY_SLACK_MS if m_p50 else None,
            True,
            f"p50 capture-to-render <= {LATENCY_OF_MODEL:g} x model-alone p50 {m_p50} ms "
            f"+ {LATENCY_SLACK_MS:g} ms",
        ),
        _target(
            "chromium_cpu_ms_per_frame",
            per_frame,
            CHROMIUM_OF_MODEL * m_p50 if m_p50 else None,
            True,
            f"Chromium CPU per rendered frame <= {CHROMIUM_OF_MODEL} x model-alone p50",
        ),
    ]
    for where in ("serve", "kernel"):
        label = (
            "a `segwidget serve` process" if where == "serve" else "the kernel after SegWidget()"
        )
        out.append(
            _target(f"rss_{where}_mb", memory.get(where), RSS_LIMIT_MB, True, f"RSS of {label}")
        )
    fast = bool(m_fps and m_fps >= FAST_MACHINE * CAMERA_FPS)
    out.append(
        _target(
            "camera_rate_on_a_fast_machine",
            fps if fast else None,
            CAMERA_FPS_SHORTFALL * CAMERA_FPS if fast else None,
            False,
            f"loop reaches the camera's {CAMERA_FPS:g} FPS where the model alone does "
            f">= {FAST_MACHINE * CAMERA_FPS:g} FPS"
            + ("" if fast else f" (not applicable: model alone {m_fps} FPS)"),
        )
    )
    return out


def target_rss_mb(target: Any) -> dict[str, float | None]:
    """Resident memory of what serves ``target`` (an e2e bench Target): its kernel (probed
    from inside) or its ``segwidget serve`` process."""
    out: dict[str, float | None] = {}
    if getattr(target, "probe", None) is not None:
        try:
            out["kernel"] = round(float(target.probe.eval(RSS_PROBE, timeout=60)), 1)
        except Exception:  # a kernel that cannot answer has no figure, not a failed run
            out["kernel"] = None
    proc = getattr(target, "server_proc", None)
    if proc is not None:
        out["serve"] = rss_mb(proc.pid)
    return out


def small_machine(
    row: dict[str, Any], model: dict[str, Any], memory: dict[str, float | None]
) -> dict[str, Any]:
    """The JSON the bench keeps: the model alone, memory, and every target."""
    return {"model_alone": model, "memory": memory, "targets": evaluate(row, model, memory)}


def format_small_machine(small: dict[str, Any]) -> list[str]:
    """The bench's printout: the model alone, memory, then one line per target."""
    m = small.get("model_alone") or {}
    mem = small.get("memory") or {}
    lines = [
        f"model alone (Engine.segment, {m.get('frame')} frame, same run): p50 "
        f"{m.get('p50_ms')} ms, {m.get('fps')} FPS",
        "resident memory (MB): " + ", ".join(f"{k} {v}" for k, v in mem.items()),
    ]
    return lines + format_targets(small.get("targets") or [])


def format_targets(targets: list[dict[str, Any]]) -> list[str]:
    """One line per target: figure, op, limit, met / NOT met / n/a."""
    lines = ["targets:"]
    for t in targets:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        fig = "-" if t["value"] is None else f"{t['value']:g}"
        lim = "-" if t["limit"] is None else f"{t['limit']:g}"
        lines.append(f"  [{verdict}] {t['name']}: {fig} {t['op']} {lim}  ({t['text']})")
    return lines
