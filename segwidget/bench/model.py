"""``segwidget bench``: model speed per profile and backend, measured in one run."""

from __future__ import annotations

import gc
import os
import resource
import sys
import textwrap
import time
from collections.abc import Callable

import numpy as np

from ..engine import Engine
from ..hardware import choose_backend
from ..preprocess import encode_jpeg, resize
from ..profiles import get_profile
from ..protocol import encode_mask


def bench_frame() -> np.ndarray:
    """A real 640x480 photo (scikit-image's coffee, if installed), else a smooth gradient."""
    try:
        import cv2
        from skimage import data

        return cv2.resize(data.coffee(), (640, 480), interpolation=cv2.INTER_AREA)
    except ImportError:
        y, x = np.mgrid[0:480, 0:640]
        return np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)


def _rss_mb() -> float:
    """Resident memory of this process now, in MB (peak so far where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _gpu_peak_mb(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def bench_engine(engine: Engine, frame: np.ndarray, seconds: float) -> dict:
    """Time the transports' path for about ``seconds`` (at least 3 runs).

    Like a browser client, the frame is sent as a JPEG already downscaled to the model's
    size; the server decodes, segments and deflates the mask. ``overhead_pct`` is all that
    non-model work as a percentage of the model's time.
    """
    h, w = engine.model_hw(*frame.shape[:2])
    jpeg = encode_jpeg(resize(frame, h, w), 80)
    engine.segment_jpeg(jpeg)  # one more warm-up at the real frame size
    rows: list[dict[str, float]] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(rows) < 3:
        t0 = time.perf_counter()
        res = engine.segment_jpeg(jpeg)
        t1 = time.perf_counter()
        encode_mask(res.mask)
        t2 = time.perf_counter()
        rows.append({**res.timings, "encode": (t2 - t1) * 1000, "total": (t2 - t0) * 1000})
    model = [r["inference"] for r in rows]
    overhead = [r["total"] - r["inference"] for r in rows]
    h, w = res.mask.shape
    return {
        "input": f"{w}x{h}",
        "runs": len(rows),
        "model_p50_ms": _pct(model, 50),
        "model_p95_ms": _pct(model, 95),
        "decode_ms": _pct([r["decode"] for r in rows], 50),
        "pre_ms": _pct([r["preprocess"] for r in rows], 50),
        "post_ms": _pct([r["postprocess"] + r["encode"] for r in rows], 50),
        "overhead_pct": round(100 * float(np.median(overhead)) / float(np.median(model)), 1),
        "fps": round(1000 / float(np.median([r["total"] for r in rows])), 1),
    }


def run_bench(
    profiles: list[str],
    backends: list[str] | None = None,
    device: str = "auto",
    weights: str = "pretrained",
    seconds: float = 3.0,
    input_size: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per (profile, backend). On CPU the default adds torch eager for the ratio.

    ``load_s`` is the first load (including the ONNX export unless cached); ``switch_s`` a
    second load with the export cached, which is what a first switch to a profile costs.
    """
    frame = bench_frame()
    if backends is None:
        auto = choose_backend("auto", device)
        backends = [auto.backend] + (
            ["torch"] if auto.device == "cpu" and auto.backend != "torch" else []
        )
    rows: list[dict] = []
    for profile in profiles:
        for backend in backends:
            say = progress or (lambda _m: None)
            say(f"bench: {profile} / {backend} ...")
            row: dict = {"profile": profile, "backend": backend}
            if backend == "torch" and get_profile(profile).shipped:
                # It would fall back to ONNX Runtime: a second row of the same thing. A row
                # that does not apply is no failure (``error`` is kept for real ones).
                row["skipped"] = "this profile ships ONNX graphs, no torch network"
                rows.append(row)
                continue
            gc.collect()
            rss0 = _rss_mb()
            try:
                t0 = time.perf_counter()
                engine = Engine(profile, weights, backend, device, input_size)
                row["load_s"] = round(time.perf_counter() - t0, 2)
                t0 = time.perf_counter()
                # What a profile switch costs once the export is cached (the pool makes
                # later switches back to it instant).
                Engine(profile, weights, backend, device, input_size)
                row["switch_s"] = round(time.perf_counter() - t0, 2)
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
                rows.append(row)
                continue
            row.update(
                device=engine.info["device"],
                precision=engine.info["precision"],
                weights=engine.info["weights"],
                **bench_engine(engine, frame, seconds),
            )
            gpu = _gpu_peak_mb(engine.info["device"])
            row["mem_mb"] = round(gpu if gpu is not None else _rss_mb() - rss0, 1)
            del engine
            rows.append(row)
    _add_ratios(rows)
    return rows


def _add_ratios(rows: list[dict]) -> None:
    """``torch_over_ort``: torch eager model time / ONNX Runtime model time, same run."""
    by = {(r["profile"], r["backend"]): r for r in rows if "model_p50_ms" in r}
    for (profile, backend), row in by.items():
        torch_row = by.get((profile, "torch"))
        if backend == "onnxruntime" and torch_row:
            row["torch_over_ort"] = round(torch_row["model_p50_ms"] / row["model_p50_ms"], 2)


COLUMNS = [
    ("profile", "profile"),
    ("backend", "backend"),
    ("device", "dev"),
    ("precision", "prec"),
    ("input", "input"),
    ("model_p50_ms", "model p50 ms"),
    ("model_p95_ms", "p95 ms"),
    ("decode_ms", "decode ms"),
    ("pre_ms", "pre ms"),
    ("post_ms", "post ms"),
    ("overhead_pct", "other %"),
    ("fps", "FPS"),
    ("mem_mb", "mem MB"),
    ("load_s", "load s"),
    ("switch_s", "switch s"),
    ("torch_over_ort", "torch/ORT"),
]


#: Printed under the table: what the columns measure.
LEGEND = (
    "model p50 / p95 ms: the model alone, median and 95th percentile of the runs; decode / "
    "pre / post ms: medians of JPEG decode, resize to the model input, and mask "
    "postprocess + deflate; other %: all the non-model work as a share of the model's time; "
    "FPS: one frame's whole path, serially; mem MB: memory the engine added (GPU: peak); "
    "load s: first load (with the ONNX export unless cached), switch s: a second load; "
    "torch/ORT: torch eager model time over ONNX Runtime's in this run (empty without a "
    "torch row to compare)."
)


def failed(rows: list[dict]) -> bool:
    """Whether any row failed (a skipped row, one that does not apply, is no failure)."""
    return any(r.get("error") for r in rows)


def format_table(rows: list[dict]) -> str:
    """A plain-text table with its legend; skipped rows and errors are listed under it."""
    table = [[label for _, label in COLUMNS]]
    for r in rows:
        if not r.get("error") and not r.get("skipped"):
            table.append(["" if r.get(k) is None else str(r[k]) for k, _ in COLUMNS])
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += textwrap.wrap(LEGEND, 100)
    for r in rows:
        if r.get("skipped"):
            lines.append(f"{r['profile']} / {r['backend']}: not run: {r['skipped']}")
        if r.get("error"):
            lines.append(f"{r['profile']} / {r['backend']}: error: {r['error']}")
    if any(r.get("weights", "").startswith("random") for r in rows):
        lines.append("weights: random (untrained): speed is the same as pretrained")
    return "\n".join(lines)
