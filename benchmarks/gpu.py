"""GPU benchmark: model time per profile at the spec sizes, GPU memory with all three
profiles loaded, and FP16 vs FP32 argmax agreement.

    python benchmarks/gpu.py [--weights pretrained|random] [--seconds 5] [--json OUT.json]

Targets (issue 5, H100): fast <= 4 ms, balanced <= 8 ms, accurate <= 20 ms; all three
loaded < 5 GB; FP16 agrees with FP32. Without a CUDA GPU it runs the same code on the CPU
at small sizes (``--smoke``, what CI runs) so the script cannot rot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from segwidget import PROFILES, Engine
from segwidget.bench.model import bench_engine

TARGET_MS = {"fast": 4.0, "balanced": 8.0, "accurate": 20.0}
TARGET_MEM_GB = 5.0


def photos() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea()]


def gpu_used_bytes() -> int | None:
    """Device memory in use by every library in this process (torch, ORT, TensorRT)."""
    import torch

    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    return total - free


def square(photo: np.ndarray, side: int) -> np.ndarray:
    import cv2

    return cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)


def run(weights: str, seconds: float, smoke: bool) -> dict:
    import torch

    cuda = torch.cuda.is_available() and not smoke
    device = "cuda" if cuda else "cpu"
    out: dict = {"device": torch.cuda.get_device_name(0) if cuda else "cpu (smoke run)"}
    base = gpu_used_bytes() if cuda else None
    engines: dict[str, Engine] = {}
    rows = []
    for name, profile in PROFILES.items():
        side = profile.gpu_size if cuda else 128
        t0 = time.perf_counter()
        # A profile that ships ONNX graphs runs where ONNX Runtime's providers can run it:
        # without onnxruntime-gpu or TensorRT that is the CPU, and the row says so.
        eng = Engine(
            name, weights=weights, device="auto" if profile.shipped else device, input_size=side
        )
        load_s = time.perf_counter() - t0
        engines[name] = eng
        frame = square(photos()[0], side)
        stats = bench_engine(eng, frame, seconds)
        row = {
            "profile": name,
            "backend": eng.info["backend"],
            "device": eng.info["device"],
            "reason": eng.info["backend_reason"],
            "precision": eng.info["precision"],
            "load_s": round(load_s, 2),
            **stats,
            "target_ms": TARGET_MS.get(name) if cuda and not profile.shipped else None,
        }
        # Agreement of the optimised backend with FP32 on the CPU at the same size: torch,
        # or ONNX Runtime for a profile that ships ONNX graphs (no torch network).
        ref_backend = "onnxruntime" if profile.shipped else "torch"
        ref = Engine(name, weights=weights, backend=ref_backend, device="cpu", input_size=side)
        agree = []
        for p in photos():
            a = eng.segment(square(p, side)).mask
            b = ref.segment(square(p, side)).mask
            agree.append(float((a == b).mean()))
        row["agree_vs_fp32"] = round(min(agree), 5)
        del ref
        rows.append(row)
    out["rows"] = rows
    if cuda:
        used = gpu_used_bytes()
        out["gpu_mem_all_loaded_gb"] = round((used - base) / 2**30, 2)
        out["gpu_mem_target_gb"] = TARGET_MEM_GB
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="pretrained")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--smoke", action="store_true", help="CPU, small sizes (CI)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    result = run(args.weights, args.seconds, args.smoke)
    print(f"device: {result['device']}")
    cols = [
        "profile",
        "backend",
        "device",
        "precision",
        "input",
        "model_p50_ms",
        "model_p95_ms",
        "target_ms",
        "fps",
        "load_s",
        "agree_vs_fp32",
    ]
    print("  ".join(f"{c:>13}" for c in cols))
    for r in result["rows"]:
        print("  ".join(f"{'' if r.get(c) is None else r[c]!s:>13}" for c in cols))
    for r in result["rows"]:
        print(f"{r['profile']}: {r['reason']}")
    if "gpu_mem_all_loaded_gb" in result:
        print(
            f"GPU memory, all three loaded: {result['gpu_mem_all_loaded_gb']} GB "
            f"(target < {TARGET_MEM_GB} GB)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
