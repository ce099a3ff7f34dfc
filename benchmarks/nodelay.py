"""Kernel execute round trip over a Jupyter Server's WebSocket, TCP_NODELAY on vs off.

    python benchmarks/nodelay.py                 # 100 round trips each, median and p95
    python benchmarks/nodelay.py --n 400 --json nodelay.json

Two bare ``jupyter server`` processes run side by side, one with segwidget's extension (as
``pip install segwidget`` configures it) and one with it disabled
(``--ServerApp.jpserver_extensions={'segwidget.jupyter_nodelay': False}``); batches of
``print(1)`` executions alternate between them (on, off, off, on) so both see the same
machine state. Each round trip is timed from sending the request to receiving both the
``execute_reply`` and the ``idle`` status, as a browser would. ``tests/test_nodelay.py``
checks the socket option; the timing is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# The checkout this script belongs to, not whichever segwidget happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segwidget.bench.e2e.runs import nodelay_round_trips
from segwidget.bench.harness import missing_requirements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="round trips per setting")
    parser.add_argument("--json", metavar="OUT", help="also write the figures to this file")
    args = parser.parse_args(argv)
    why = missing_requirements("jupyter_server", "jupyter_client", chromium=False)
    if why:
        print(f"benchmarks/nodelay.py: skipped: {why}", file=sys.stderr)
        return 0
    res = nodelay_round_trips(args.n)
    for key in ("on", "off"):
        r = res[key]
        print(f"TCP_NODELAY {key:3}: median {r['median_ms']} ms, p95 {r['p95_ms']} ms (n={r['n']})")
    print(f"off / on (median): {res['off_over_on']}x; load average {res['loadavg']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
