"""The model tier on Ray Serve vs the local engine: throughput, latency, batch size, Ray's cost.

Starts a local Ray cluster in this process (CPU only), deploys the profile with 1 and then 2
replicas, and runs N simulated clients against each and against a local ``Engine`` (what one
``segwidget serve`` process does today: one inference at a time). Each client is a thread
with one frame in flight, the next sent when the reply arrives, like the page; frames are
JPEGs at the model's input size, as the page sends them.

    python benchmarks/cluster.py                        # 1, 2, 4, 8 clients; 1 and 2 replicas
    python benchmarks/cluster.py --seconds 10 --batch-wait-ms 20 --json cluster.json
    python benchmarks/cluster.py --batch-only --batch-frames 4   # one call vs one by one only

First, without Ray: a replica's shape bucket of ``--batch-frames`` frames run as one batched
engine call against the same frames one call each (``Engine.infer_batch``), on the local
backend (``--backend``), alternating the two for ``--batch-repeats`` rounds; the medians and
their ratio are printed.

Printed per row: total results/s, per-client mean and p95 latency, the mean batch size the
replicas ran, Ray's cost per frame (round trip minus the time inside the replica), the time a
frame waited in the replica for its batch, and this process's CPU per frame (with a cluster:
what the session tier spends per frame; with the local engine: the inference too).
Figures on a small shared machine are noisy; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segwidget.engine import Engine
from segwidget.preprocess import decode_jpeg, encode_jpeg, resize, to_nchw
from segwidget.profiles import get_profile, input_hw


def frames(profile: str, count: int = 8) -> list[bytes]:
    p = get_profile(profile)
    h, w = input_hw(480, 640, p.cpu_size, p.multiple)
    try:
        from skimage import data

        img = data.astronaut()
    except ImportError:
        y, x = np.mgrid[0:512, 0:512]
        img = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return [encode_jpeg(np.roll(small, 13 * i, axis=1)) for i in range(count)]


def run_clients(engine, jpegs: list[bytes], clients: int, seconds: float) -> dict:
    """``clients`` threads, each one frame in flight, for ``seconds``; returns the figures."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    batches: list[int] = []
    overhead: list[float] = []
    waits: list[float] = []
    errors = [0]
    stop = threading.Event()
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        start.wait()
        k = i
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = engine.segment_jpeg(jpegs[k % len(jpegs)])
            except Exception:
                errors[0] += 1
                continue
            lat[i].append((time.perf_counter() - t0) * 1000)
            if "batch" in r.extra:
                batches.append(r.extra["batch"])
                overhead.append(r.timings["cluster"])
                waits.append(r.timings.get("batch_wait", 0.0))
            k += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0, cpu0 = time.perf_counter(), time.process_time()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    every = [x for per in lat for x in per]
    mean = statistics.fmean
    return {
        "clients": clients,
        "fps_total": round(len(every) / elapsed, 2),
        "latency_mean_ms": round(mean(every), 1) if every else None,
        "latency_p95_ms": round(float(np.percentile(every, 95)), 1) if every else None,
        "mean_batch": round(mean(batches), 2) if batches else None,
        "max_batch": max(batches) if batches else None,
        "ray_overhead_ms": round(mean(overhead), 2) if overhead else None,
        "batch_wait_ms": round(mean(waits), 2) if waits else None,
        # this process's CPU per frame: the session tier's share when the model is remote
        "cpu_ms_per_frame": round(cpu * 1000 / len(every), 2) if every else None,
        "errors": errors[0],
    }


def batched_vs_single(
    profile: str, weights: str, backend: str, frames_n: int, repeats: int
) -> dict:
    """One bucket of ``frames_n`` frames as one engine call vs the same frames one by one."""
    engine = Engine(profile, weights=weights, backend=backend)
    p = engine.profile
    jpegs = frames(profile, frames_n)
    rgb = [decode_jpeg(j) for j in jpegs]
    h, w = engine.model_hw(*rgb[0].shape[:2])
    x = np.concatenate([to_nchw(resize(f, h, w)) for f in rgb])
    engine.infer_batch(x)  # warm-up: the batch shape's first call allocates
    one, each = [], []
    for _ in range(repeats):
        calls = engine.model_calls
        t0 = time.perf_counter()
        engine.infer_batch(x)
        one.append((time.perf_counter() - t0) * 1000)
        batched_calls = engine.model_calls - calls
        t0 = time.perf_counter()
        for i in range(frames_n):
            engine.infer_batch(x[i : i + 1])
        each.append((time.perf_counter() - t0) * 1000)
    med = statistics.median
    return {
        "profile": p.name,
        "backend": engine.info["backend"],
        "device": engine.info["device"],
        "frames": frames_n,
        "input": f"{w}x{h}",
        "calls_batched": batched_calls,
        "one_call_ms": round(med(one), 1),
        "one_by_one_ms": round(med(each), 1),
        "ratio": round(med(each) / med(one), 2),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--weights", default="random", help="random (default: offline) or pretrained")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=8.0, help="timed seconds per row")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--batch-wait-ms", type=float, default=10.0)
    ap.add_argument("--gpus-per-replica", type=float, default=0.0, help="e.g. 1 on GPU nodes")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--backend", default="auto", help="the batching comparison's backend")
    ap.add_argument("--batch-frames", type=int, default=4, help="frames in the bucket")
    ap.add_argument("--batch-repeats", type=int, default=5)
    ap.add_argument("--batch-only", action="store_true", help="skip the Ray Serve rows")
    args = ap.parse_args(argv)

    batching = batched_vs_single(
        args.profile, args.weights, args.backend, args.batch_frames, args.batch_repeats
    )
    print(
        f"batching: {batching['frames']} frames at {batching['input']} "
        f"({batching['backend']}/{batching['device']}): one call "
        f"({batching['calls_batched']} engine call) {batching['one_call_ms']} ms, one by one "
        f"{batching['one_by_one_ms']} ms: x{batching['ratio']} "
        f"(medians of {batching['repeats']})",
        flush=True,
    )
    if args.batch_only:
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "batching": batching}))
        return 0

    import ray

    from segwidget.cluster.client import RemoteEngine
    from segwidget.cluster.config import DeployOptions
    from segwidget.cluster.connect import start_local
    from segwidget.cluster.manage import deploy, shutdown

    cpus = os.cpu_count() or 2
    jpegs = frames(args.profile)
    rows = []
    print(f"{cpus} CPU cores; {args.profile} profile, {args.weights} weights", flush=True)
    start_local(cpus)  # a GPU machine: Ray finds its GPUs itself
    try:
        for n in args.replicas:
            opts = DeployOptions(
                profiles=(args.profile,),
                replicas=n,
                cpus_per_replica=cpus / n,
                gpus_per_replica=args.gpus_per_replica,
                weights=args.weights,
                max_batch=args.max_batch,
                batch_wait_ms=args.batch_wait_ms,
            )
            print(f"deploying {n} replica(s) ...", flush=True)
            deploy(opts)
            engine = RemoteEngine(args.profile, "auto")
            run_clients(engine, jpegs, 1, 1.0)  # warm-up
            for c in args.clients:
                row = {"target": f"{n} replica(s)", **run_clients(engine, jpegs, c, args.seconds)}
                rows.append(row)
                print(row, flush=True)
            shutdown([args.profile])
    finally:
        ray.shutdown()
    local = Engine(args.profile, weights=args.weights)
    run_clients(local, jpegs, 1, 1.0)
    for c in args.clients:
        row = {"target": "local engine", **run_clients(local, jpegs, c, args.seconds)}
        rows.append(row)
        print(row, flush=True)
    print_table(rows, args)
    if args.json:
        out = {"cpus": cpus, "args": vars(args), "batching": batching, "rows": rows}
        Path(args.json).write_text(json.dumps(out))
    return 0


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    cols = [
        "target",
        "clients",
        "fps_total",
        "latency_mean_ms",
        "latency_p95_ms",
        "mean_batch",
        "max_batch",
        "ray_overhead_ms",
        "batch_wait_ms",
        "cpu_ms_per_frame",
        "errors",
    ]
    print("\n" + " | ".join(cols))
    for r in rows:
        print(" | ".join("-" if r.get(c) is None else str(r.get(c)) for c in cols))
    by = {(r["target"], r["clients"]): r for r in rows}
    print()
    for c in args.clients:
        one, two, loc = (by.get((t, c)) for t in ("1 replica(s)", "2 replica(s)", "local engine"))
        if one and two and one["fps_total"]:
            print(
                f"{c} clients: 2 vs 1 replica throughput x{two['fps_total'] / one['fps_total']:.2f}"
            )
        if one and loc and loc["fps_total"]:
            print(
                f"{c} clients: 1 replica vs local engine x{one['fps_total'] / loc['fps_total']:.2f}"
            )
    first = by.get(("1 replica(s)", min(args.clients)))
    if first:
        print(
            f"Ray's cost per frame at {first['clients']} client: {first['ray_overhead_ms']} ms "
            f"(plus a batch wait of {first['batch_wait_ms']} ms while no other frame comes)"
        )


if __name__ == "__main__":
    sys.exit(main())
