"""The view's render paths side by side: the widget's ``renderer`` setting (stage-renderer.js).

``auto`` shows the camera's ``<video>`` under an overlay canvas drawn once per result (for
the default ``filled`` mode), ``canvas`` draws every video frame onto one 2D canvas (the
path before it), ``webgl`` draws every video frame with WebGL (on the CPU in headless
Chromium: SwiftShader). Windows alternate (A B C C B A) in one JupyterLab; each row says
which path the view reported taking, and Chromium's CPU per rendered frame by process.
"""

from __future__ import annotations

from typing import Any

from ..targets import chromium_ms_per_frame
from .configs import log
from .measure import E2EBench, Target
from .report import compare_cpu

JS_PATH = """() => { const s = document.querySelector('.segwidget .sw-stage');
  return s ? [s.dataset.renderer || null, s.dataset.rendererReason || null] : [null, null]; }"""


def compare_renderers(
    bench: E2EBench, target: Target, paths: tuple[str, ...] = ("auto", "canvas")
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rows per ``renderer`` setting, and the first two compared (Chromium ms per frame)."""
    taken: dict[str, Any] = {}

    def apply(path: str):
        def go() -> None:
            target.set(renderer=path)
            taken.setdefault(path, None)

        return go

    res = bench.alternate(
        [(f"renderer {p}", target, apply(p), lambda f: True) for p in paths],
    )
    for p in paths:
        target.set(renderer=p)
        bench.settle(target, n=2)
        taken[p] = target.page.evaluate(JS_PATH)
        row = res[f"renderer {p}"]
        row["render_path"] = taken[p]
        row["chromium_ms_per_frame"] = chromium_ms_per_frame(row)
        log(f"  renderer {p}: path {taken[p][0]}, {row['chromium_ms_per_frame']} ms per frame")
    target.set(renderer="auto")
    first, second = (f"renderer {p}" for p in paths[:2])
    what = f"renderer {paths[0]} ({taken[paths[0]][0]}) vs {paths[1]} ({taken[paths[1]][0]})"
    return res, compare_cpu("renderer", what, {first: res[first], second: res[second]})


def run_renderers(
    seconds: float, paths: tuple[str, ...] = ("auto", "canvas", "webgl")
) -> dict[str, Any]:
    """One JupyterLab, the ``paths`` alternated: ``benchmarks/render_paths.py``."""
    with E2EBench(seconds) as bench:
        lab = bench.open_widget("lab", "JupyterLab")
        lab.set(adapt=False)  # every path at one quality level (the full input size)
        res, comparison = compare_renderers(bench, lab, paths)
    return {
        "kind": "segwidget-bench-render-paths",
        "seconds": seconds,
        "rows": res,
        "comparison": comparison,
    }
