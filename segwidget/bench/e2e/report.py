"""Figures from the view's per-frame records: windows summarised, CPU merged, ratios, the table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..targets import chromium_ms_per_frame, format_small_machine
from .configs import NOISY_OUTSIDE_PCT


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def mean(values: Iterable[float | None]) -> float | None:
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
    network = mean(p["network"] for p in parts)
    half = None if network is None else round(network / 2, 2)
    stages = {
        "capture": mean(f.get("capture_ms") for f in frames),
        "encode": mean(f.get("encode_ms") for f in frames),
        "upload": half,
        "queue": mean(t.get("queue") for t in timings),
        "decode": mean(t.get("decode") for t in timings),
        "preprocess": mean(t.get("preprocess") for t in timings),
        "inference": mean(t.get("inference") for t in timings),
        "postprocess": mean(t.get("postprocess") for t in timings),
        "encode_mask": mean(t.get("encode") for t in timings),
        "download": half,
        "decode_mask": mean(r.get("decode_ms") for r in renders),
        "render": mean(r.get("render_ms") for r in renders),
    }
    after = mean(p["after_receive"] for p in parts)
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
        "latency_p50_ms": pct(lat, 50),
        "latency_p95_ms": pct(lat, 95),
        "latency_mean_ms": mean(lat),
        "latency_min_ms": round(min(lat), 1) if lat else None,
        "latency_max_ms": round(max(lat), 1) if lat else None,
        "stages": stages,
        "latency_parts": {
            "before_send": mean(p["before_send"] for p in parts),
            "network": network,
            "server": mean(p["server"] for p in parts),
            "after_receive": after,
            "of_which_wait_for_draw": wait_draw,
        },
        "upload_bytes": mean(f.get("bytes") for f in frames),
        **upload_sizes(frames),
        "in_flight_at_send": mean(f.get("in_flight") for f in matched),
    }


def upload_sizes(frames: list[dict]) -> dict[str, Any]:
    """The frames' sizes: ``upload_size`` the most common (adaptive quality may move it
    within a window), ``upload_sizes`` how many frames went at each."""
    counts: dict[str, int] = {}
    for f in frames:
        size = f"{f['width']}x{f['height']}"
        counts[size] = counts.get(size, 0) + 1
    most = max(counts, key=counts.__getitem__) if counts else None
    return {"upload_size": most, "upload_sizes": counts}


def cpu_text(cpu: dict[str, Any]) -> str:
    """A short line for a table: the heaviest roles in % of one core."""
    groups: dict[str, float] = {}
    for name, pct in cpu["by_process"].items():
        key = "chromium" if name.startswith("chromium:") else name
        groups[key] = groups.get(key, 0.0) + pct
    keep = [(k, v) for k, v in sorted(groups.items(), key=lambda kv: -kv[1]) if v >= 1]
    text = ", ".join(f"{k} {v:.0f}" for k, v in keep)
    return f"{text}; outside {cpu['outside']:.0f}" if cpu.get("outside") is not None else text


def noisy(cpu: dict[str, Any]) -> bool:
    """Whether other jobs on the machine used enough CPU to distort a measurement."""
    return bool(cpu.get("outside") is not None and cpu["outside"] > NOISY_OUTSIDE_PCT)


def merge_cpu(windows: list[dict[str, Any]]) -> dict[str, Any]:
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


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def compare(name: str, what: str, a: dict, b: dict) -> dict[str, Any]:
    """``a`` vs ``b`` as ratios a / b: FPS (above 1: a draws more) and p50 / p95 latency
    (below 1: a is faster)."""
    fps = ratio(a["fps"], b["fps"])
    lat = ratio(a["latency_p50_ms"], b["latency_p50_ms"])
    p95 = ratio(a["latency_p95_ms"], b["latency_p95_ms"])
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


def e2e_targets(row: dict[str, Any]) -> dict[str, Any]:
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


def format_rows(result: dict[str, Any]) -> str:
    cols = [
        ("name", "run"),
        ("upload_size", "input"),
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
    if result.get("small_machine"):
        lines += format_small_machine(result["small_machine"])
    if result.get("warning"):
        lines.append(f"warning: {result['warning']}")
    lines.append(
        f"load average: {result['machine'].get('loadavg')} -> "
        f"{result['machine'].get('loadavg_end')}"
    )
    return "\n".join(lines)


def compare_cpu(name: str, what: str, res: dict[str, dict]) -> dict[str, Any]:
    """The two configurations of ``res`` compared, with each side's Chromium CPU per frame
    and kernel CPU added."""
    rows = list(res.values())
    c = compare(name, what, *rows)
    per = [chromium_ms_per_frame(r) for r in rows]
    kernel = [(r.get("cpu") or {}).get("by_process", {}).get("kernel") for r in rows]
    c["chromium_ms_per_frame"] = per
    c["text"] += (
        f"; Chromium CPU {per[0]} vs {per[1]} ms per frame, kernel {kernel[0]} vs {kernel[1]} %"
    )
    return c
