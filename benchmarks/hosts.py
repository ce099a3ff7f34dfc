"""The widget's frame rate in each notebook host, one after another in one run.

    python benchmarks/hosts.py                    # 20 s per host, the README's host table
    python benchmarks/hosts.py --seconds 30 --hosts lab colab --json hosts.json

Each host runs ``SegWidget(profile="person")`` with Chromium's fake webcam playing the
astronaut clip (the tests' person clip): JupyterLab, Notebook 7 and Voila (the harness's
WidgetHost, kernel from this venv), the Colab box (Colab's widget manager, Colab's kernel
packages; ``scripts/colab_box_env.sh`` first) and marimo (``marimo run``). After the first
results and a 5 s warm-up it counts, over ``--seconds``, the results the view drew
(``segwidget:render`` events on the view) and reads the kernel's ``stats`` where there is a
kernel to ask (not in marimo). The load of the machine is printed with the figures; the
hosts run one at a time, so compare them as ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# The checkout this script belongs to, not whichever segwidget happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segwidget.bench.harness import (
    SegWidgetPage,
    WidgetHost,
    chromium_path,
    launch_chromium,
    sample_photos,
    wait_until,
)
from segwidget.bench.harness.colab_box import ColabBox, box_missing
from segwidget.bench.harness.marimo import MarimoHost
from segwidget.bench.harness.person import make_person_clip

ROOT = Path(__file__).resolve().parent.parent
SELECTOR = ".segwidget canvas.sw-canvas"
CELL = "from segwidget import SegWidget\n\nw = SegWidget(profile='person', mirror=False)\nw"
HOSTS = ("lab", "notebook", "voila", "colab", "marimo")
JS_RENDERS = """(canvas) => { const el = canvas.closest('.segwidget');
  if (el.__swRenders === undefined) { el.__swRenders = 0;
    el.addEventListener('segwidget:render', () => el.__swRenders++); }
  return el.__swRenders; }"""


def open_host(kind: str, home: Path, launch):
    if kind == "colab":
        why = box_missing()
        if why:
            raise RuntimeError(why)
        box = ColabBox(home, SELECTOR).start(launch)
        box.run(CELL)
        box.wait_widget()
        return box
    if kind == "marimo":
        return MarimoHost("run", ROOT / "notebooks" / "marimo_quickstart.py", home, SELECTOR).start(
            launch
        )
    return WidgetHost(kind, home, [CELL], SELECTOR).start(launch)


def measure(kind: str, host, clip, seconds: float) -> dict:
    count = lambda: int(host.widget.evaluate(JS_RENDERS))  # noqa: E731
    count()
    wait_until(lambda: count() >= 5, 240, f"{kind}: 5 results drawn", on_timeout=host.diagnostics)
    time.sleep(5)  # warm-up: the adaptive controller settles
    n0, t0 = count(), time.monotonic()
    time.sleep(seconds)
    n1, t1 = count(), time.monotonic()
    out = {"drawn_per_s": round((n1 - n0) / (t1 - t0), 1)}
    if host.probe is not None:
        stats = SegWidgetPage(host, clip.video).stats()
        out.update(
            kernel_fps=stats.get("fps"),
            latency_ms=stats.get("latency_ms"),
            inference_ms=stats.get("inference_ms"),
            adapted=stats.get("adapted"),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--hosts", nargs="+", choices=HOSTS, default=list(HOSTS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="segwidget-hosts-") as tmp:
        tmp = Path(tmp)
        clip = make_person_clip(tmp / "astronaut.y4m", sample_photos()["astronaut"])
        with sync_playwright() as pw:
            for kind in args.hosts:
                home = tmp / kind
                launch = lambda home=home: launch_chromium(  # noqa: E731
                    pw, chromium_path(), clip.video.path, home / "chromium"
                )
                load0 = os.getloadavg()[0]
                host = None
                try:
                    host = open_host(kind, home / "host", launch)
                    results[kind] = measure(kind, host, clip, args.seconds)
                except Exception as exc:  # one host failing leaves the others' figures
                    results[kind] = {"error": str(exc).splitlines()[0]}
                finally:
                    if host is not None:
                        host.close()
                results[kind]["load_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
                print(kind, json.dumps(results[kind]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
