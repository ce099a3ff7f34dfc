"""notebooks/marimo_quickstart.py in marimo (``marimo run`` and ``marimo edit``, headless),
with the fake webcam playing the astronaut clip and the ``person`` profile.

marimo hosts the anywidget itself: no Jupyter comm, model messages over marimo's own
connection. Checked in each mode:

- frames flow and the overlay covers the person (only the person class shown, from the
  legend);
- a setting from another cell (marimo's dropdown) reaches the view, and one from the view's
  toolbar reaches Python (the cell that reads ``view.value`` re-runs and shows it);
- those reactive re-runs neither restart the stream nor open a second camera (one live
  track, one getUserMedia, results keep coming);
- ``w.latest()`` from another cell (marimo's run button);
- blur blurs the background and keeps her face sharp; replace puts the background colour
  around her.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from segwidget.bench.harness import (
    JS_RECORD_STREAMS,
    SegWidgetPage,
    launch_chromium,
    missing_module,
    wait_until,
)
from segwidget.bench.harness.marimo import MarimoHost
from tests.e2e.test_person import OPACITY, blur_check, overlay_check

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "marimo_quickstart.py"
SELECTOR = ".segwidget canvas.sw-canvas"
# Every camera stream the page opens; results drawn, counted on the view's root (marimo puts
# the view in a shadow root, so its events do not reach the document).
INIT_SCRIPT = JS_RECORD_STREAMS
JS_STREAMS = """() => [window.__swStreams.length, window.__swStreams.flatMap((s) => s.getTracks())
  .filter((t) => t.readyState === 'live').length]"""
JS_COUNT_RENDERS = """(canvas) => { const el = canvas.closest('.segwidget');
  if (el.__swRenders === undefined) { el.__swRenders = 0;
    el.addEventListener('segwidget:render', () => el.__swRenders++); }
  return el.__swRenders; }"""


@pytest.fixture(scope="module")
def engine(person_engine):
    return person_engine


@pytest.fixture(scope="module")
def clip(person_clip):
    return person_clip


@pytest.fixture(scope="module", params=["run", "edit"])
def marimo(request, playwright_driver, chromium, clip, tmp_path_factory):
    if missing_module("marimo"):
        pytest.skip("marimo is not installed (pip install marimo)")
    home = tmp_path_factory.mktemp(f"marimo-{request.param}")
    host = MarimoHost(request.param, NOTEBOOK, home / "host", SELECTOR)

    def launch():
        ctx = launch_chromium(playwright_driver, chromium, clip.video.path, home / "chromium")
        ctx.add_init_script(INIT_SCRIPT)
        return ctx

    try:
        host.start(launch)
        host.widget.evaluate(JS_COUNT_RENDERS)
        page = SegWidgetPage(host, clip.video)
        page.renders = lambda: int(host.widget.evaluate(JS_COUNT_RENDERS))
        wait_until(lambda: page.renders() >= 5, 240, "5 results drawn", on_timeout=host.diagnostics)
        yield page
    finally:
        host.close()


def _output(page, pattern: str) -> str:
    loc = page.host.page.get_by_text(re.compile(pattern))
    wait_until(lambda: loc.count() > 0, 60, f"a cell output matching {pattern!r}")
    return loc.first.inner_text()


def _select_mode(page, mode: str) -> None:
    page.host.page.locator("select:has(option:text-is('confidence'))").first.select_option(
        label=mode
    )


def test_frames_flow_and_the_overlay_covers_the_person(
    marimo, engine, clip, person_colour, metrics
):
    host = marimo.host
    host.page.locator(".segwidget .sw-legend-item[data-label='person']").click()
    got = marimo.wait_canvas(
        overlay_check(engine, clip, person_colour), 60, "the overlay on the person only"
    )
    n0 = marimo.renders()
    wait_until(lambda: marimo.renders() >= n0 + 20, 60, "20 more results drawn")
    metrics[f"marimo {host.mode}, person: overlay inside / outside the person"] = got
    assert OPACITY == 0.6  # the notebook's slider starts there, as overlay_check assumes


def test_settings_both_ways_without_restarting_the_stream(marimo):
    host = marimo.host
    assert host.page.evaluate(JS_STREAMS) == [1, 1]
    # another cell -> the view
    _select_mode(marimo, "contour")
    contour = host.page.locator(".segwidget button[data-mode='contour']")
    wait_until(lambda: contour.get_attribute("aria-pressed") == "true", 30, "contour in the view")
    # the view's toolbar -> Python (the cell reading view.value re-runs)
    host.page.locator(".segwidget button[data-mode='blend']").click()
    wait_until(
        lambda: "'blend'" in _output(marimo, r"Python sees viz_mode = '\w+'"),
        30,
        "Python seeing blend",
    )
    # the reactive re-runs left the stream alone: the same camera, results still coming
    n0 = marimo.renders()
    wait_until(lambda: marimo.renders() >= n0 + 10, 60, "10 more results drawn")
    assert host.page.evaluate(JS_STREAMS) == [1, 1]


def test_latest_from_another_cell(marimo):
    host = marimo.host
    host.page.get_by_role("button", name="latest()").click()
    text = _output(marimo, r"latest\(\): seq \d+")
    m = re.search(r"seq (\d+), person ([\d.]+)%", text)
    assert m, text
    assert int(m.group(1)) > 0
    assert float(m.group(2)) > 5  # the astronaut is in the frame


def test_blur_and_replace(marimo, engine, clip):
    host = marimo.host
    host.page.locator(".segwidget button[data-mode='blur']").click()
    marimo.wait_canvas(blur_check(engine, clip), 60, "a blurred background, a sharp face")
    host.page.locator(".segwidget button[data-mode='replace']").click()

    def green_around(rgba):
        index, _ = clip.video.nearest(rgba)
        person = engine.segment(clip.video.frames[index]).mask_at(*rgba.shape[:2]) > 0
        outside = rgba[..., :3][~person].astype(int)
        near = float((np.abs(outside - (0, 255, 0)).max(axis=-1) < 40).mean())
        return near > 0.8, {"outside_green": round(near, 3)}

    marimo.wait_canvas(green_around, 60, "the default green background around her")
    assert host.page.evaluate(JS_STREAMS) == [1, 1]
