"""Far from the kernel: run `segwidget bench --e2e --rtt` over round trips, rates and profiles,
and render docs/perf/far.md (the "Far from the kernel" section of docs/PERFORMANCE.md, which
benchmarks/report.py includes) and docs/perf/far.png.

    python benchmarks/far.py --run      # every run, one host each, JSON in docs/perf/far/
    python benchmarks/far.py            # render far.md and far.png from those JSON files

Each run alternates `before` (max_in_flight=2, display="live") and `after` (the defaults:
"auto", "auto") in windows A B B A per round trip, on one host (segwidget/bench/e2e/far.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "perf" / "far"
MD = ROOT / "docs" / "perf" / "far.md"
PNG = ROOT / "docs" / "perf" / "far.png"


def runs(profiles: list[str], rtts: str, rates: list[float]) -> list[tuple[str, list[str]]]:
    """(name, bench arguments) of every run."""
    out = []
    for profile in profiles:
        out.append((f"{profile}-local", ["--profile", profile, "--rtt", "local"]))
        for rate in rates:
            args = ["--profile", profile, "--rtt", rtts, "--rate-mbit", f"{rate:g}"]
            out.append((f"{profile}-{rate:g}mbit", args))
    p = profiles[0]
    out.append((f"{p}-stall", ["--profile", p, "--rtt", "200", "--scenario", "stall"]))
    for q in profiles:
        out.append((f"{q}-drop", ["--profile", q, "--rtt", "200", "--scenario", "drop"]))
    return out


def run(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name, bench in runs(args.profiles.split(","), args.rtts, args.rates):
        if args.only and name not in args.only.split(","):
            continue
        out = OUT / f"{name}.json"
        cmd = [sys.executable, "-m", "segwidget.cli", "bench", "--e2e", "--seconds"]
        cmd += [str(args.seconds), *bench, "--output", str(out)]
        t0 = time.monotonic()
        print(f"[far {time.strftime('%H:%M:%S')}] {name}: {' '.join(bench)}", flush=True)
        proc = subprocess.run(cmd, env=env, timeout=1800)
        print(f"[far] {name}: rc {proc.returncode}, {time.monotonic() - t0:.0f} s", flush=True)
    return 0


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> list[str]:
    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + " --- |" * len(cols)]
    out += ["| " + " | ".join(_cell(r.get(k)) for k, _ in cols) + " |" for r in rows]
    return out


COLS = [
    ("rtt", "added round trip ms"),
    ("config", "settings"),
    ("fps", "FPS"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("kernel_results_s", "results/s in the kernel"),
    ("window_mean", "mean window"),
    ("aligned_share", "drawn aligned"),
    ("alignment", "person under the mask"),
]


def load() -> dict[str, dict]:
    """The runs' results, in the order the runs go (by profile: local, rates, scenarios)."""
    found = {p.stem: json.loads(p.read_text()) for p in OUT.glob("*.json")}

    def key(name: str) -> tuple:
        profile, _, what = name.partition("-")
        order = {"local": 0, "stall": 8, "drop": 9}
        rate = what.removesuffix("mbit")
        rank = order.get(what, 1 + (-float(rate) if rate.replace(".", "").isdigit() else 0))
        return (profile != "person", profile, rank)

    return {name: found[name] for name in sorted(found, key=key)}


def scenario_text(s: dict) -> str:
    """One sentence for a scenario's result."""
    if s.get("kind") == "stall":
        first = s.get("first_result_after_stall_ms")
        return (
            f"A {s['stall_s']:g} s stall of the link: waiting state shown: "
            f"{'yes' if s['waiting_shown'] else 'no'}; resumed by itself: "
            f"{'yes' if s['resumed'] else 'no'}"
            + (f", first result drawn {first} ms after it ended" if first is not None else "")
            + f"; results of frames from before the stall drawn after it: "
            f"{s['stale_results_drawn_after']} (of {s['results_after']} drawn in the next seconds)."
        )
    if s.get("kind") == "drop":
        back = s.get("back_within_s")
        per = ", ".join("-" if v is None else f"{v:.0f}" for v in s["p50_per_s_ms"])
        return (
            f"The uplink dropped from {s['from_mbit']:g} to {s['to_mbit']:g} Mbit/s: p50 per "
            f"second after the drop {per} ms; back within the round trip + 150 ms "
            f"({s['bound_ms']:g} ms, 3 s in a row) "
            + (f"after {back} s" if back is not None else "not within 20 s")
            + f" ({'met' if s.get('met') else 'missed'}: within 10 s)."
        )
    return json.dumps(s)


def render() -> int:
    results = load()
    if not results:
        print(f"no results in {OUT}", file=sys.stderr)
        return 1
    lines = ["## Far from the kernel (`segwidget bench --e2e --rtt`)", ""]
    lines += [
        "The widget in JupyterLab behind the harness's WAN emulation (`bench/harness/wan.py`: a",
        "proxy on 127.0.0.2 adding the round trip, half each way, and capping the uplink; the",
        "downlink at max(uplink, 20) Mbit/s), so frames go as JPEG as they would from Colab.",
        "One host per table; per round trip the two settings alternate in windows A B B A:",
        '**before** is `max_in_flight=2, display="live"`, **after** the defaults',
        '(`max_in_flight="auto", display="auto"`). `person` plays the astronaut cut out onto',
        "green gliding at 160 px/s with the person class drawn opaque; *person under the mask*",
        "is the share of her shown pixels the drawn mask covers (median of screenshots of the",
        "stage after each window); `fast` (random weights) plays the usual photo clip. `local`",
        "is loopback itself (localhost, raw frames, no proxy).",
        "",
    ]
    for r in results.values():
        if "rows" not in r or not r["rows"]:
            continue
        m = r["machine"]
        rate = r["rate_mbit"]
        where = "localhost" if r["rows"][0]["rtt_ms"] is None else f"uplink {rate['up']:g} Mbit/s"
        if r.get("scenario"):
            where += f", then the {r['scenario']['kind']} scenario"
        lines += [
            f"### `{r['profile']}`, {where} ({r['seconds']:g} s per setting; load average "
            f"{m['loadavg'][0]} at the start, {m.get('loadavg_end', ['?'])[0]} at the end)",
            "",
        ]
        rows = [dict(x, rtt="local" if x["rtt_ms"] is None else x["rtt_ms"]) for x in r["rows"]]
        lines += [*_table(rows, COLS), ""]
        for tname, t in r.get("targets", {}).items():
            lines.append(f"- target `{tname}`: {t['value']} ({'met' if t['met'] else 'missed'})")
        if r.get("targets"):
            lines.append("")
        if r.get("scenario"):
            lines += [f"Then, after the after rows: {scenario_text(r['scenario'])}", ""]
    if plot(results):
        lines += ["![FPS and p50 against the round trip, before and after](perf/far.png)", ""]
    MD.write_text("\n".join(lines))
    print(f"wrote {MD}")
    return 0


def plot(results: dict[str, dict]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = [
        (name, r)
        for name, r in results.items()
        if r.get("rows") and r["rows"][0]["rtt_ms"] is not None and len(r["rows"]) > 2
    ]
    if not series:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, r in series:
        for config, style in (("before", "--"), ("after", "-")):
            rows = [x for x in r["rows"] if x["config"] == config]
            x = [row["rtt_ms"] for row in rows]
            label = f"{name} {config}"
            axes[0].plot(x, [row["fps"] for row in rows], style, marker="o", label=label)
            axes[1].plot(x, [row["latency_p50_ms"] for row in rows], style, marker="o", label=label)
            if any(row.get("alignment") is not None for row in rows):
                al = [100 * (row.get("alignment") or 0) for row in rows]
                axes[2].plot(x, al, style, marker="o", label=label)
    xs = sorted({row["rtt_ms"] for _, r in series for row in r["rows"]})
    axes[1].plot(xs, xs, ":", color="grey", label="the added round trip")
    axes[0].set(title="results drawn per second", xlabel="added round trip (ms)", ylabel="FPS")
    axes[1].set(title="p50 capture to render", xlabel="added round trip (ms)", ylabel="ms")
    axes[2].set(
        title="person pixels under the mask (person)", xlabel="added round trip (ms)", ylabel="%"
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PNG, dpi=90)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="run the benches, then render")
    parser.add_argument("--profiles", default="person,fast")
    parser.add_argument("--rtts", default="0,50,100,200,300")
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 4.0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per setting and round trip")
    parser.add_argument("--only", help="comma-separated run names (e.g. person-20mbit)")
    args = parser.parse_args()
    if args.run:
        run(args)
    return render()


if __name__ == "__main__":
    sys.exit(main())
