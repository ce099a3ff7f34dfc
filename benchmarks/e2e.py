"""Every end-to-end figure of issue 5 in one run, written to one JSON file.

    python benchmarks/e2e.py --json e2e.json              # about 7 minutes on 2 cores
    python benchmarks/e2e.py --json e2e.json --seconds 5  # a quick smoke run

Runs ``segwidget.bench.e2e.run_all``: the widget in JupyterLab (the targets' figures, first
result time) and Voila, the page of ``segwidget serve``, and the side-by-side experiments,
each measured in this one run with alternated windows: TCP_NODELAY on vs off, one vs two
frames in flight, browser downscale vs full-size upload, our widget vs the ipywidgets.Image
loop, and the kernel round trip with and without TCP_NODELAY. The JSON holds ``runs`` (one
row per measured configuration), ``comparisons`` (ratios with a sentence each),
``experiments`` (every figure, per-stage means, CPU per process, load averages) and
``targets``. Needs Chromium, Playwright, JupyterLab, Voila and the server extra; without
them it writes ``{"skipped": why}`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Measure the checkout this script belongs to (and its kernels, which get the same path),
# not whichever segwidget happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segwidget.bench.e2e import format_rows, requirements, run_all
from segwidget.bench.e2e.configs import DEFAULT_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help=f"measured seconds per configuration (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--round-trips", type=int, default=100, help="kernel round trips per nodelay setting"
    )
    args = parser.parse_args(argv)
    why = requirements(["all"])
    if why:
        print(f"benchmarks/e2e.py: skipped: {why}", file=sys.stderr)
        result = {"kind": "segwidget-bench-e2e", "skipped": why}
    else:
        result = run_all(args.seconds, nodelay_trips=args.round_trips)
        print(format_rows(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
