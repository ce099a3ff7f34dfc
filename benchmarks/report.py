"""Regenerate docs/PERFORMANCE.md: run every benchmark, keep the figures, draw the plot.

    python benchmarks/report.py                 # everything (about 20 minutes on 2 cores)
    python benchmarks/report.py --only model sizes server
    python benchmarks/report.py --render-only   # rewrite the page from docs/perf/*.json

Each part runs in its own process (so memory and threads do not leak between them) and
writes docs/perf/<part>.json; the page and docs/perf/performance.png are made from those
files. Figures are from one run on one machine: compare the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from segwidget.bench.model import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
PERF = ROOT / "docs" / "perf"
DOC = ROOT / "docs" / "PERFORMANCE.md"
PY = sys.executable


def _cmd(part: str, out: Path, quick: bool) -> list[str]:
    s = "1" if quick else None
    return {
        "model": [
            PY,
            "-m",
            "segwidget.cli",
            "bench",
            "--weights",
            "random",
            "--json",
            "--seconds",
            s or "5",
        ],
        "sizes": [
            PY,
            str(ROOT / "benchmarks" / "model_sizes.py"),
            "--json",
            str(out),
            "--seconds",
            s or "3",
        ],
        "server": [
            PY,
            str(ROOT / "benchmarks" / "server_clients.py"),
            "--clients",
            "1",
            "2",
            "4",
            "8",
            "--seconds",
            s or "15",
            "--json",
            str(out),
        ],
        "e2e": [PY, str(ROOT / "benchmarks" / "e2e.py"), "--json", str(out)]
        + (["--seconds", "5"] if quick else []),
        "gpu": [PY, str(ROOT / "benchmarks" / "gpu.py"), "--weights", "random", "--json", str(out)],
    }[part]


PARTS = ("model", "sizes", "server", "e2e", "gpu")


def run_part(part: str, quick: bool) -> None:
    out = PERF / f"{part}.json"
    cmd = _cmd(part, out, quick)
    print(f"== {part}: {' '.join(Path(c).name if '/' in c else c for c in cmd)}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if part == "model":  # prints its JSON on stdout
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{part} failed:\n{proc.stderr[-3000:]}")
        out.write_text(proc.stdout)
    else:
        proc = subprocess.run(cmd, env=env, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{part} failed with exit code {proc.returncode}")


def _load(part: str):
    path = PERF / f"{part}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(label for _, label in cols) + " |"
    rule = "|" + "|".join(" --- " for _ in cols) + "|"
    body = [
        "| " + " | ".join("" if r.get(k) is None else str(r[k]) for k, _ in cols) + " |"
        for r in rows
    ]
    return "\n".join([head, rule, *body])


#: The small-machine issue's measurement (2026-12-01, JupyterLab, fast profile, 2 cores,
#: quiet machine, before the changes it asked for): the "before" of the stage bar.
BEFORE = {
    "label": "before (12.84 FPS, p50 152 ms)",
    "stages": {
        "capture": 4.7,
        "encode": 29.5,
        "upload": 9.2,
        "queue": 17.5,
        "decode": 1.1,
        "preprocess": 0.3,
        "inference": 63.3,
        "postprocess": 0.3,
        "encode_mask": 0.2,
        "download": 9.2,
        "decode_mask": 7.9,
        "render": 7.1,
    },
    "text": "12.84 FPS, p50 152.3 ms, p95 249.3 ms; CPU % of a core: kernel 89, chromium 86 "
    "(67 ms per frame), jupyter server 4; the model alone p50 34.7 ms (28.8 FPS); a serve "
    "process with the fast profile about 940 MB resident",
}


def plot_stages(e2e: dict | None) -> str | None:
    """docs/perf/stages.png: the mean time of each stage, before and after, as stacked bars."""
    runs = (e2e or {}).get("runs") or []
    if not runs or not runs[0].get("stages"):
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    after = runs[0]
    bars = [
        (BEFORE["label"], BEFORE["stages"]),
        (
            f"after ({after['fps']} FPS, p50 {after['latency_p50_ms']:.0f} ms"
            + (", busy machine)" if after.get("noisy") else ")"),
            after["stages"],
        ),
    ]
    fig, ax = plt.subplots(figsize=(11, 2.6))
    names = list(BEFORE["stages"])
    for row, (_label, stages) in enumerate(bars):
        left = 0.0
        for i, name in enumerate(names):
            ms = stages.get(name) or 0.0
            ax.barh(row, ms, left=left, color=plt.cm.tab20(i), label=name if row == 0 else None)
            left += ms
    ax.set_yticks(range(len(bars)), [label for label, _ in bars])
    ax.invert_yaxis()
    ax.set(xlabel="mean ms per frame, by stage (JupyterLab, fast profile)")
    ax.legend(ncol=6, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    fig.tight_layout()
    path = PERF / "stages.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def plot() -> str | None:
    """docs/perf/performance.png: model time vs input size, and server scaling."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes, server = _load("sizes"), _load("server")
    if not sizes and not server:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if sizes:
        ax = axes[0]
        for backend in sorted({r["backend"] for r in sizes}):
            rs = [r for r in sizes if r["backend"] == backend]
            ax.plot([r["size"] for r in rs], [r["model_p50_ms"] for r in rs], "o-", label=backend)
        ax.set(
            xlabel="model input, long side (px)",
            ylabel="model time p50 (ms)",
            title=f"{sizes[0]['profile']} profile on CPU",
        )
        ax.grid(alpha=0.3)
        ax.legend()
    if server:
        ax = axes[1]
        ax2 = ax.twinx()
        for proto, style in (("binary", "-"), ("spec", "--")):
            rs = [r for r in server["rows"] if r["protocol"] == proto]
            if not rs:
                continue
            n = [r["clients"] for r in rs]
            ax.plot(
                n,
                [r["fps_per_client"] for r in rs],
                "o" + style,
                color="C0",
                label=f"FPS per client ({proto})",
            )
            ax2.plot(
                n,
                [r["latency_p50_ms"] for r in rs],
                "s" + style,
                color="C3",
                label=f"latency p50 ({proto})",
            )
        ax.set(
            xlabel="concurrent clients",
            ylabel="results per second per client",
            title="segwidget serve: cost of more clients",
        )
        ax2.set_ylabel("round-trip latency p50 (ms)")
        ax.grid(alpha=0.3)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="center right")
    fig.tight_layout()
    path = PERF / "performance.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def render() -> str:
    model, sizes, server, e2e, gpu = (_load(p) for p in PARTS)
    when = datetime.date.today().isoformat()
    meta = json.loads((PERF / "meta.json").read_text()) if (PERF / "meta.json").exists() else {}
    out = [
        "# Performance",
        "",
        "Regenerate this page, its figures and the plot with `python benchmarks/report.py`",
        "(each part alone: `--only model|sizes|server|e2e|gpu`). Every table comes from one run",
        "of its part, so its rows are comparable with each other; compare ratios, not",
        "absolute times across tables (this 2-core machine is shared and noisy).",
        "",
        f"Measured {meta.get('date', when)} on {meta.get('machine', platform.platform())}, "
        f"{meta.get('cpus', os.cpu_count())} CPUs, no GPU. Weights are random (untrained): "
        "the speed is the same as with the pretrained weights, which cannot be downloaded here.",
        "",
    ]
    if model:
        out += [
            "## Model per profile and backend (`segwidget bench`)",
            "",
            "The transports' path: a JPEG at the model's size in (what the browser uploads),",
            "decode, preprocess, model, postprocess and the deflated mask out. `other %` is",
            "all of that non-model work as a share of the model's time (target <= 10 %);",
            "`torch/ORT` is torch eager's model time over ONNX Runtime's in the same run.",
            "",
            _table(
                model,
                [c for c in COLUMNS if c[0] not in ("device", "precision")],
            ),
            "",
            "`load s` is a first load including the ONNX export; `switch s` a load with the",
            "export cached (what switching to a profile costs the first time; switching back",
            "to a loaded profile is a pool hit). Target: switch <= 2 s.",
            "",
        ]
    if sizes:
        out += [
            "## Model time against input size",
            "",
            _table(
                sizes,
                [
                    ("size", "long side"),
                    ("backend", "backend"),
                    ("input", "input"),
                    ("model_p50_ms", "p50 ms"),
                    ("model_p95_ms", "p95 ms"),
                ],
            ),
            "",
        ]
    if server:
        rows = server["rows"]
        out += [
            "## Protocols and clients (`benchmarks/server_clients.py`)",
            "",
            "A real `segwidget serve` process and N WebSocket clients behaving like the page",
            "(at most two frames in flight). Binary: a 320x240 JPEG up (the page downscales to",
            "the model's size), the deflated class mask down. Spec: a 640x480 base64 JPEG up,",
            "a base64 colourised composite PNG down. `server CPU ms` is the server process's",
            "CPU time (all threads) per result.",
            "",
            _table(
                rows,
                [
                    ("protocol", "protocol"),
                    ("clients", "clients"),
                    ("fps_per_client", "FPS/client"),
                    ("fps_min", "min"),
                    ("fps_max", "max"),
                    ("fps_total", "total FPS"),
                    ("latency_p50_ms", "latency p50 ms"),
                    ("latency_p95_ms", "p95"),
                    ("inference_ms", "model ms"),
                    ("bytes_up_per_frame", "bytes up"),
                    ("bytes_down_per_frame", "bytes down"),
                    ("server_cpu_ms_per_frame", "server CPU ms"),
                    ("errors", "errors"),
                ],
            ),
            "",
        ]
        one = {r["protocol"]: r for r in rows if r["clients"] == 1}
        if "binary" in one and "spec" in one:
            b, s = one["binary"], one["spec"]
            tb = b["bytes_up_per_frame"] + b["bytes_down_per_frame"]
            ts = s["bytes_up_per_frame"] + s["bytes_down_per_frame"]
            out += [
                "Binary vs spec protocol, one client, same run: "
                f"bytes per frame {tb / ts:.1%} of the spec's ({tb / 1024:.1f} KB vs "
                f"{ts / 1024:.1f} KB; target <= 40 %), server CPU per frame "
                f"{b['server_cpu_ms_per_frame'] / s['server_cpu_ms_per_frame']:.2f}x, "
                f"FPS {b['fps_per_client'] / s['fps_per_client']:.2f}x.",
                "",
            ]
    png = plot()
    if png:
        out += [f"![model time against input size; server scaling](perf/{png})", ""]
    if e2e:
        out += ["## End to end in headless Chromium (`segwidget bench --e2e`)", ""]
        out += _render_e2e(e2e)
    if gpu:
        out += [
            "## GPU (`benchmarks/gpu.py`)",
            "",
            f"Device: {gpu.get('device')}",
            "",
            _table(
                gpu["rows"],
                [
                    ("profile", "profile"),
                    ("backend", "backend"),
                    ("precision", "precision"),
                    ("input", "input"),
                    ("model_p50_ms", "p50 ms"),
                    ("target_ms", "target ms"),
                    ("agree_vs_fp32", "agreement vs FP32"),
                ],
            ),
            "",
        ]
    else:
        out += [
            "## GPU",
            "",
            "No GPU was lent to this project's sessions so far: `benchmarks/gpu.py` (model",
            "time per profile at the spec sizes, GPU memory with all three loaded, FP16 vs",
            "FP32 agreement) has only run its CPU smoke mode (`--smoke`, in CI).",
            "",
        ]
    far = PERF / "far.md"  # written by benchmarks/far.py
    if far.exists():
        out += [far.read_text().strip(), ""]
    notes = PERF / "notes.md"
    if notes.exists():
        out += [notes.read_text().strip(), ""]
    return "\n".join(out)


def _render_e2e(e2e: dict) -> list[str]:
    """The end-to-end part's JSON (``benchmarks/e2e.py``): runs, comparisons, targets."""
    machine = e2e.get("machine", {})
    lines = [
        "The real widget (JupyterLab, Voila) or page in headless Chromium with a fake webcam",
        "(a Y4M clip of scikit-image photos, 640x480 at 30 fps), fast profile, default CPU",
        f"settings, {e2e.get('seconds')} s per configuration, all in one run (load average "
        f"{machine.get('loadavg', ['?'])[0]} at the start). Latency is capture to render, per",
        "frame; CPU is % of one core per process over the measured window.",
        "",
    ]
    runs = e2e.get("runs") or []
    if runs:
        cols = [
            ("name", "configuration"),
            ("upload_size", "input"),
            ("fps", "FPS"),
            ("latency_p50_ms", "p50 ms"),
            ("latency_p95_ms", "p95 ms"),
            ("frames_dropped", "dropped"),
            ("first_result_s", "first result s"),
            ("cpu_pct", "CPU % of a core"),
        ]
        lines += [_table(runs, cols), ""]
    if e2e.get("warning"):
        lines += [f"**Measured on a busy machine:** {e2e['warning']}.", ""]
    if e2e.get("comparisons"):
        lines += ["Side by side, each pair from the same run:", ""]
        lines += [f"- {c['text']}" for c in e2e["comparisons"]]
        lines.append("")
    targets = e2e.get("targets") or {}
    if isinstance(targets, dict) and targets:
        lines += ["Targets (fast profile, JupyterLab):", ""]
        for name, t in targets.items():
            lines.append(
                f"- {name.replace('_', ' ')}: {t['value']} ({'met' if t['met'] else 'missed'})"
            )
        lines.append("")
    small = e2e.get("small_machine") or {}
    if small.get("targets"):
        lines += _render_small_machine(small, e2e)
    return lines


def _render_small_machine(small: dict, e2e: dict) -> list[str]:
    """The small-machine targets (issue 9): each figure against its limit, with the model
    alone measured in the same run."""
    model = small.get("model_alone") or {}
    lines = [
        "Small-machine targets (fast profile, JupyterLab, default settings; the model alone is "
        f"`Engine.segment` on a {model.get('frame', '?')} frame in the same run: p50 "
        f"{model.get('p50_ms')} ms, {model.get('fps')} FPS):",
        "",
        "| target | figure | limit | met |",
        "| --- | --- | --- | --- |",
    ]
    for t in small["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        fig = "-" if t["value"] is None else t["value"]
        limit = "-" if t["limit"] is None else f"{t['op']} {t['limit']}"
        lines.append(f"| {t['text']} | {fig} | {limit} | {met} |")
    lines += ["", f"Before (the issue's run on this machine, quiet): {BEFORE['text']}.", ""]
    chart = plot_stages(e2e)
    if chart:
        lines += [f"![stages before and after](perf/{chart})", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the page")
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    args = parser.parse_args(argv)
    PERF.mkdir(parents=True, exist_ok=True)
    if not args.render_only:
        import torch

        parts = args.only or [p for p in PARTS if p != "gpu" or torch.cuda.is_available()]
        for part in parts:
            run_part(part, args.quick)
        (PERF / "meta.json").write_text(
            json.dumps(
                {
                    "date": datetime.date.today().isoformat(),
                    "machine": f"{platform.system()} {platform.machine()}",
                    "cpus": os.cpu_count(),
                    "load_average_after": os.getloadavg(),
                },
                indent=2,
            )
        )
    DOC.write_text(render())
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
