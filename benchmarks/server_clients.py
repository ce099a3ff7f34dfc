"""Results per second per client of ``segwidget serve`` with 1 and 8 concurrent clients.

Starts the server in its own process (``python -m segwidget.server``), then runs
N WebSocket clients in this process for a fixed time. Each client behaves like the page: at
most two frames in flight, the next one sent when a result arrives. Binary-protocol clients
send the JPEG at the model's input size (the page downscales before encoding); spec-protocol
clients send a 640x480 base64 JPEG and get the colourised composite PNG back.

    python benchmarks/server_clients.py                       # 1 and 8 clients, both protocols
    python benchmarks/server_clients.py --clients 1 4 8 --seconds 10 --protocol binary
    python benchmarks/server_clients.py --url ws://127.0.0.1:8000/ws?token=...   # running server
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time

import cv2
import httpx
import numpy as np
import websockets

from segwidget.preprocess import encode_jpeg
from segwidget.protocol import pack_ws, unpack_ws


def photo(width: int, height: int) -> np.ndarray:
    try:
        from skimage import data

        img = data.astronaut()
    except ImportError:  # a synthetic frame will do
        y, x = np.mgrid[0:512, 0:512]
        img = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "segwidget.server",
        "--port",
        "0",
        "--token",
        "none",
        "--rate-limit",
        "0",
        "--profile",
        args.profile,
        "--weights",
        args.weights,
        "--backend",
        args.backend,
        "--device",
        args.device,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip().startswith("http://"):
            base = line.strip().rstrip("/")
            break
    else:
        raise RuntimeError("the server did not start:\n" + "".join(lines))
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the server did not answer /healthz:\n" + "".join(lines))
        time.sleep(0.05)
    return proc, base.replace("http://", "ws://") + "/ws"


def process_cpu_s(proc: subprocess.Popen | None) -> float:
    """User + system CPU seconds of a child process so far (Linux /proc)."""
    if proc is None:
        return float("nan")
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client(url: str, binary: bool, seconds: float, frames: dict[str, bytes]) -> dict:
    async with websockets.connect(url, max_size=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "init", "config": {"binary": binary}}))
        while True:
            head, _ = unpack_ws(await ws.recv())
            if head["type"] in ("ready", "connected"):
                break
        if binary:
            side = head["input_size"]
            jpeg = frames.setdefault(side, encode_jpeg(photo(side, side * 3 // 4)))
        else:
            text = base64.b64encode(frames["640"]).decode()
        sent: dict[int, float] = {}
        latencies: list[float] = []
        inference: list[float] = []
        served, errors, seq = 0, 0, 0
        bytes_up = bytes_down = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            while len(sent) < 2:
                seq += 1
                sent[seq] = time.perf_counter()
                if binary:
                    out = pack_ws({"type": "frame", "seq": seq}, [jpeg])
                else:
                    out = json.dumps({"type": "frame", "data": text, "timestamp": seq})
                bytes_up += len(out)
                await ws.send(out)
            data = await ws.recv()
            head, _ = unpack_ws(data)
            kind = head["type"]
            if kind == "result":
                done = head["seq"]
                inference.append(head["timings"]["inference"])
            elif kind == "segmentation":
                done = int(head["timestamp"])
                inference.append(head["metadata"]["inference_time_ms"])
            elif kind == "error":
                errors += 1
                done = max(sent)
            else:
                continue
            if kind != "error":
                served += 1
                bytes_down += len(data)
                latencies.append((time.perf_counter() - sent[done]) * 1000)
            sent = {s: t for s, t in sent.items() if s > done}
        elapsed = time.monotonic() - t0
        return {
            "fps": served / elapsed,
            "served": served,
            "sent": seq,
            "bytes_up": bytes_up,
            "bytes_down": bytes_down,
            "errors": errors,
            "latencies": latencies,
            "inference": inference,
        }


async def round_(url: str, n: int, protocol: str, seconds: float) -> list[dict]:
    frames = {"640": encode_jpeg(photo(640, 480))}
    binary = protocol == "binary"
    return await asyncio.gather(*(client(url, binary, seconds, frames) for _ in range(n)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--protocol", choices=["binary", "spec", "both"], default="both")
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--url", help="an already running server's ws:// URL (with ?token=)")
    parser.add_argument("--json", help="also write every row to this file")
    args = parser.parse_args()

    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args)
    try:
        base = url.replace("ws://", "http://").split("/ws")[0]
        query = url.partition("?")[2]
        info = httpx.get(f"{base}/api/info" + (f"?{query}" if query else "")).json()
        print(
            f"segwidget {info['version']}: profile {args.profile} ({args.weights} weights) on "
            f"{info['backend']} / {info['device']}; {os.cpu_count()} CPUs; {args.seconds:g} s; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'protocol':9} {'clients':>7} {'fps/client (min..max)':>24} {'total fps':>9} "
            f"{'latency ms p50':>14} {'p95':>7} {'inference ms':>12} {'KB up':>6} "
            f"{'KB down':>7} {'server CPU ms':>13} {'errors':>6}"
        )
        table = []
        protocols = ["binary", "spec"] if args.protocol == "both" else [args.protocol]
        for protocol in protocols:
            for n in args.clients:
                cpu0 = process_cpu_s(proc)
                rows = asyncio.run(round_(url, n, protocol, args.seconds))
                cpu = process_cpu_s(proc) - cpu0 if proc is not None else float("nan")
                fps = [r["fps"] for r in rows]
                lat = sorted(x for r in rows for x in r["latencies"])
                p50 = statistics.median(lat) if lat else float("nan")
                p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
                inf = [x for r in rows for x in r["inference"]]
                inf_mean = statistics.mean(inf) if inf else float("nan")
                spread = f"{statistics.mean(fps):.1f} ({min(fps):.1f}..{max(fps):.1f})"
                served = sum(r["served"] for r in rows) or 1
                sent = sum(r["sent"] for r in rows) or 1
                row = {
                    "protocol": protocol,
                    "clients": n,
                    "fps_per_client": round(statistics.mean(fps), 2),
                    "fps_min": round(min(fps), 2),
                    "fps_max": round(max(fps), 2),
                    "fps_total": round(sum(fps), 2),
                    "latency_p50_ms": round(p50, 1),
                    "latency_p95_ms": round(p95, 1),
                    "inference_ms": round(inf_mean, 2),
                    "bytes_up_per_frame": round(sum(r["bytes_up"] for r in rows) / sent),
                    "bytes_down_per_frame": round(sum(r["bytes_down"] for r in rows) / served),
                    # the server process's CPU time (all threads) per result served
                    "server_cpu_ms_per_frame": round(cpu * 1000 / served, 2),
                    "errors": sum(r["errors"] for r in rows),
                }
                table.append(row)
                print(
                    f"{protocol:9} {n:>7} {spread:>24} {sum(fps):>9.1f} {p50:>14.1f} "
                    f"{p95:>7.1f} {inf_mean:>12.1f} {row['bytes_up_per_frame'] / 1024:>6.1f} "
                    f"{row['bytes_down_per_frame'] / 1024:>7.1f} "
                    f"{row['server_cpu_ms_per_frame']:>13.1f} {row['errors']:>6}",
                    flush=True,
                )
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"info": info, "rows": table}, f, indent=2)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
