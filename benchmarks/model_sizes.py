"""Model time against input size, ONNX Runtime vs torch eager, measured in one run.

python benchmarks/model_sizes.py [--profile fast] [--sizes 192 256 320 384 448 512]
"""

from __future__ import annotations

import argparse
import json
import sys

from segwidget import Engine
from segwidget.bench.model import bench_engine, bench_frame


def run(profile: str, sizes: list[int], backends: list[str], seconds: float, weights: str):
    frame = bench_frame()
    rows = []
    for size in sizes:
        for backend in backends:
            eng = Engine(profile, weights=weights, backend=backend, input_size=size)
            stats = bench_engine(eng, frame, seconds)
            rows.append({"profile": profile, "backend": backend, "size": size, **stats})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--sizes", type=int, nargs="+", default=[192, 256, 320, 384, 448, 512])
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch"])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--weights", default="random")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.profile, args.sizes, args.backends, args.seconds, args.weights)
    print(f"{'size':>5} {'backend':>12} {'input':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for r in rows:
        print(
            f"{r['size']:>5} {r['backend']:>12} {r['input']:>8} "
            f"{r['model_p50_ms']:>8} {r['model_p95_ms']:>8}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
