"""The view's render paths side by side in JupyterLab: Chromium CPU per rendered frame.

    python benchmarks/render_paths.py                      # auto, canvas, webgl; 20 s each
    python benchmarks/render_paths.py --paths auto canvas --seconds 30 --json out.json

See segwidget/bench/e2e/render_paths.py for what each path is; windows alternate so every
path sees the same machine state. Compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# The checkout this script belongs to, not whichever segwidget happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segwidget.bench.e2e.render_paths import run_renderers
from segwidget.bench.harness import missing_requirements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per path, all windows")
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["auto", "canvas", "webgl"],
        choices=["auto", "overlay", "canvas", "webgl"],
    )
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    why = missing_requirements("jupyter_client", "jupyterlab")
    if why:
        print(f"render_paths: skipped: {why}", file=sys.stderr)
        return 0
    if len(args.paths) < 2:
        parser.error("give at least two paths to compare")
    out = run_renderers(args.seconds, tuple(args.paths))
    for label, row in out["rows"].items():
        cpu = row.get("cpu") or {}
        chromium = {k: v for k, v in cpu.get("by_process", {}).items() if k.startswith("chromium")}
        print(
            f"{label}: path {row['render_path'][0]}, {row['fps']} FPS, "
            f"Chromium {row['chromium_ms_per_frame']} ms per frame, {chromium}, "
            f"outside {cpu.get('outside')} %"
        )
    print(out["comparison"]["text"])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
