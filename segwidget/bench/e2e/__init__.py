"""``segwidget bench --e2e``: the real widget or page in headless Chromium, measured end to end.

The widget runs in JupyterLab or Voila (``SegWidget(weights="random")``: fast profile,
default CPU settings), or the page of ``segwidget serve`` runs in a subprocess; Chromium
plays a fake webcam clip made from real photos. The view dispatches a ``segwidget:frame``
event for each frame it sends and a ``segwidget:render`` event for each result it draws
(``js/src/session.js``); a script installed in the page before anything else keeps them, so
every figure comes from per-frame records taken in the browser:

- ``fps``: results drawn per second; ``latency_*_ms``: capture-to-render, per frame
  (percentiles, not means of means);
- ``frames_dropped``: frames sent and never drawn (the server keeps only the newest);
- ``stages``: per-stage means with the names of ``SegWidget.stats["stages"]``, and
  ``latency_parts``, which add up to the mean latency: before_send (grab + JPEG encode),
  network (round trip minus the server's time), server (queue + decode + model + encode),
  after_receive (mask decode + wait for the next draw + draw);
- ``cpu``: CPU per process over the window, in % of one core, from ``/proc`` (the active
  host's Chromium processes by type, its Jupyter server, its kernel, ...), with the load
  from outside the measured processes and the load averages;
- ``first_result_s``: from the widget appearing in the page to its first drawn result.

``run_all`` measures, in one run, the side-by-side experiments of issue 5 as ratios:
TCP_NODELAY on vs off (two JupyterLab servers, windows alternated A B B A), one vs two
frames in flight and model-size vs full-size upload (the widget's ``max_in_flight`` and
``upload_size`` settings, same host, alternated), ONNX Runtime's thread pool as segwidget
configures it vs spinning (ORT's own default, forced in a second kernel before the engine
loads), our widget vs the common notebook loop
(OpenCV reads the same clip, the same engine segments, ``render_overlay`` composites,
``cv2.imencode`` and ``ipywidgets.Image.value``; its FPS and latency are measured in the
browser from the image's loads), and the kernel round trip with and without TCP_NODELAY
(``benchmarks/nodelay.py``). The first row has the default settings; every pair after it
runs with adaptive quality off, at the full input size, so a pair differs only in what it
compares, and each row names the input size most of its frames went at.
``python benchmarks/e2e.py --json OUT.json`` runs it.

The package, by job: :mod:`.configs` (what runs in the kernel and the page: the measuring
script, the baseline and ORT cells, the defaults), :mod:`.measure` (:class:`E2EBench`:
hosts in Chromium and measured windows), :mod:`.runs` (one host, or every experiment),
:mod:`.report` (figures from the per-frame records, ratios, the table) and, here, the
command line. The browser harness itself is :mod:`segwidget.bench.harness`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from ..harness import missing_requirements
from .configs import DEFAULT_SECONDS
from .far import format_far, run_far
from .report import format_rows
from .runs import nodelay_round_trips, run_all, run_host


def requirements(hosts: Iterable[str]) -> str | None:
    """Why the end-to-end bench cannot run here, or None."""
    modules: list[str] = ["jupyter_client"]
    for host in hosts:
        modules += {
            "lab": ["jupyterlab"],
            "voila": ["voila"],
            "page": ["uvicorn", "fastapi"],
            "all": ["jupyterlab", "voila", "uvicorn", "fastapi", "ipywidgets"],
        }[host]
    return missing_requirements(*dict.fromkeys(modules))


def run_e2e(args: argparse.Namespace) -> int:
    """``segwidget bench --e2e``: returns the exit status (0 also when skipped, with why)."""
    everything = bool(getattr(args, "all", False))
    host = getattr(args, "host", "lab") or "lab"
    seconds = float(getattr(args, "seconds", None) or DEFAULT_SECONDS)
    why = requirements(["all"] if everything else [host])
    if why:
        msg = f"segwidget bench --e2e: skipped: {why}"
        print(msg, file=sys.stderr)
        if getattr(args, "json", False):
            print(json.dumps({"kind": "segwidget-bench-e2e", "skipped": why}))
        return 0
    profiles = getattr(args, "profile", None) or ["fast"]
    if len(profiles) > 1:
        print("segwidget bench --e2e: measures one --profile at a time", file=sys.stderr)
        return 2
    rtt = getattr(args, "rtt", None)
    if rtt is not None:
        try:
            rtts = [None] if rtt == "local" else [float(x) for x in rtt.split(",") if x.strip()]
            if not rtts or any(x is not None and x < 0 for x in rtts):
                raise ValueError
        except ValueError:
            print(f"segwidget bench --e2e: --rtt takes ms >= 0 (0,100,200) or local; got {rtt!r}")
            return 2
        rate = float(getattr(args, "rate_mbit", None) or 20.0)
        down = getattr(args, "down_mbit", None)
        scenario = getattr(args, "scenario", None)
        result = run_far(host, seconds, profiles[0], rtts, rate, down, scenario)
        formatted = format_far
    else:
        result = run_all(seconds) if everything else run_host(host, seconds, profiles[0])
        formatted = format_rows
    out = getattr(args, "output", None)
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    if getattr(args, "json", False) and not out:
        print(json.dumps(result, indent=1))
    else:
        print(formatted(result))
    return 0


__all__ = [
    "format_far",
    "format_rows",
    "nodelay_round_trips",
    "requirements",
    "run_all",
    "run_e2e",
    "run_far",
    "run_host",
]
