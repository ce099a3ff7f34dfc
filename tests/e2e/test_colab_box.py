"""The widget in the Colab box (segwidget/bench/harness/colab_box.py): Colab's own widget
manager, built from its vendored source, in a cross-origin output frame, over a kernel with
Colab's packages (anywidget 0.9.21, ipykernel 6.17.1, ipywidgets 7.7.1, traitlets 5.7.1, ...),
with the fake webcam playing the astronaut clip and the ``person`` profile.

- anywidget takes its Colab path (enable_custom_widget_manager, the manager's URL in the
  output's metadata); the manager loads anywidget from "jsDelivr", answered locally;
- frames stream from the output frame to the kernel (sent from its worker thread: ipykernel
  6.17) and the overlay covers the person;
- settings from Python reach the view, the toolbar's reach Python; latest(), snapshot(),
  record() work;
- a ``background=`` image given to the constructor reaches the view (it travels as base64 text
  in the state: Colab's manager drops the buffers of a comm_open) and no message from the
  kernel comes near 1 MB;
- a kernel restart shows the disconnected state and releases the camera;
- notebooks/colab_quickstart.ipynb runs top to bottom in the restarted kernel (its install
  cell skipped: the box's venv has segwidget installed as its scripts install it).

One box (server, kernel, browser) for the module; the restart and the quick start come last.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from segwidget.bench.harness import (
    JS_LIVE_TRACKS,
    JS_RECORD_STREAMS,
    SegWidgetPage,
    launch_chromium,
    wait_until,
)
from segwidget.bench.harness.colab_box import ColabBox, box_missing
from tests.e2e.test_person import OPACITY, blur_check, overlay_check

pytestmark = pytest.mark.e2e

SELECTOR = ".segwidget canvas.sw-canvas"
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "colab_quickstart.ipynb"
#: The constructor's background: stripes of two colours no class colour or clip pixel has.
STRIPES = ((255, 0, 200), (0, 160, 255))
CELL = f"""import numpy as np
from segwidget import SegWidget

bg = np.zeros((240, 320, 3), np.uint8)
bg[:, :160] = {STRIPES[0]}
bg[:, 160:] = {STRIPES[1]}
w = SegWidget(profile="person", mirror=False, background=bg)
w"""
# Every camera stream a frame of the page is given (the init script runs in each frame), and
# the kernel's messages' sizes as the output frame receives them.
INIT_SCRIPT = JS_RECORD_STREAMS
JS_BANNER = """(root) => { const b = root.querySelector('[role=alert]');
  return b && !b.hidden ? b.querySelector('.sw-banner-code').textContent : null; }"""
JS_PLACEHOLDER = """(root) => { const p = root.querySelector('.sw-placeholder');
  return p && !p.hidden ? p.textContent : null; }"""
# The largest message the page got from the kernel on its WebSocket so far (bytes).
JS_LARGEST = "() => window.box.largest"


@pytest.fixture(scope="module")
def engine(person_engine):
    return person_engine


@pytest.fixture(scope="module")
def clip(person_clip):
    return person_clip


@contextlib.contextmanager
def open_box(playwright_driver, chromium, clip, home: Path, init_scripts=(), url_hook=None):
    """A started box showing CELL's widget (closed on exit); skips where it is not built."""
    why = box_missing()
    if why:
        pytest.skip(why)
    box = ColabBox(home / "box", SELECTOR, url_hook=url_hook)

    def launch():
        ctx = launch_chromium(playwright_driver, chromium, clip.video.path, home / "chromium")
        for script in (INIT_SCRIPT, *init_scripts):  # in every frame, before its scripts
            ctx.add_init_script(script)
        return ctx

    try:
        box.start(launch)
        box.run(CELL)
        box.wait_widget()
        yield box
    finally:
        box.close()


@pytest.fixture(scope="module")
def box(playwright_driver, chromium, clip, tmp_path_factory):
    with open_box(playwright_driver, chromium, clip, tmp_path_factory.mktemp("colab-box")) as b:
        yield b


@pytest.fixture(scope="module")
def colab(box, clip):
    page = SegWidgetPage(box, clip.video)
    page.wait_frames(0, timeout=240)
    return page


def _frame_eval(box, js):
    return box.frame().locator(".segwidget").first.evaluate(js)


def test_anywidget_takes_colabs_path_on_colabs_packages(box, colab):
    probe = box.probe
    versions = probe.eval(
        "{m: __import__('importlib.metadata').metadata.version(m) for m in "
        "('anywidget', 'ipykernel', 'ipython', 'ipywidgets', 'traitlets', 'jupyter_client',"
        " 'numpy')}"
    )
    pins = {}
    for line in (Path(__file__).parents[1] / "colab_box" / "colab-kernel-pins.txt").open():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    assert versions == {k: pins[k] for k in versions}, versions
    assert probe.eval("'torch' in __import__('sys').modules") is False
    calls = probe.eval("__import__('google.colab.output').colab.output.calls")
    assert [c[0] for c in calls] == ["enable_custom_widget_manager"], calls
    # the manager came from its Colab URL, anywidget 0.9.21 from "jsDelivr": both local
    assert any("colab-cdn-widget-manager" in c and "build/colab-box" in c for c in box.cdn)
    assert any("anywidget@" in c and "-> 200 anywidget 0.9.21" in c for c in box.cdn), box.cdn
    assert box.blocked == []
    # the widget lives in a cross-origin output frame, as in Colab
    src = box.outputs.first.get_attribute("src")
    assert src.startswith("http://127.0.0.2:"), src


def test_streams_and_the_overlay_covers_the_person(
    box, colab, engine, clip, person_colour, metrics
):
    n = colab.frames_processed()
    colab.wait_frames(n + 5)
    colab.set(viz_mode="filled", opacity=OPACITY, class_filter=["person"])
    got = colab.wait_canvas(
        overlay_check(engine, clip, person_colour), 60, "the overlay on the person only"
    )
    stats = colab.steady_stats()
    metrics["Colab box, person: overlay inside / outside the person"] = got
    metrics["Colab box, person: stats"] = stats
    assert stats["fps"] > 5, stats
    assert _frame_eval(box, JS_BANNER) is None


def test_settings_both_ways_and_blur(box, colab, engine, clip):
    # the toolbar -> Python
    box.frame().locator("button[data-mode='blur']").click()
    wait_until(lambda: colab.get("viz_mode") == "blur", 30, "viz_mode 'blur' in Python")
    colab.wait_canvas(blur_check(engine, clip), 60, "a blurred background, a sharp face")
    # Python -> the view (its toolbar shows it)
    colab.set(viz_mode="contour")
    pressed = box.frame().locator("button[data-mode='contour']")
    wait_until(
        lambda: pressed.get_attribute("aria-pressed") == "true", 30, "the contour button pressed"
    )


def test_background_from_the_constructor_reaches_the_view(box, colab, engine, clip):
    """The image given to SegWidget(background=...) before any view existed: replace shows it."""
    colab.set(viz_mode="replace", class_filter=[])
    stripes = np.array(STRIPES)

    def check(rgba):
        index, _ = clip.video.nearest(rgba)
        region = engine.segment(clip.video.frames[index]).mask_at(*rgba.shape[:2])
        outside = rgba[..., :3][region == 0].astype(int)
        near = np.abs(outside[:, None, :] - stripes[None]).max(axis=-1).min(axis=-1) < 40
        left = rgba[:, :20, :3].reshape(-1, 3).astype(int)
        info = {
            "outside_on_stripes": round(float(near.mean()), 3),
            "left_edge_colour": np.median(left, axis=0).tolist(),
        }
        return info["outside_on_stripes"] > 0.8, info

    got = colab.wait_canvas(check, 60, "the constructor's background behind the person")
    print("background:", got)
    # nothing from the kernel came near Colab's ~1 MB message ceiling
    assert box.page.evaluate(JS_LARGEST) < 512 * 1024


def test_latest_snapshot_and_record(box, colab, engine, tmp_path):
    probe = box.probe
    r = colab.latest()
    h, w = r["frame"].shape[:2]
    ref = engine.segment(r["frame"]).mask_at(h, w)
    from segwidget.postprocess import upsample_mask

    assert float((upsample_mask(r["mask"], h, w) == ref).mean()) >= 0.95
    shot = tmp_path / "shot.png"
    assert probe.eval(f"str(w.snapshot({str(shot)!r}))") == str(shot)
    # written once a full-size frame is segmented, after the cell ends
    wait_until(lambda: shot.is_file() and shot.stat().st_size > 0, 60, "the snapshot file")
    clip_path = tmp_path / "clip.mp4"
    # Started, not waited for in the cell: with Colab's ipykernel 6.17 a cell that blocks
    # (rec.wait()) holds the view's frames (comm messages) until it ends.
    # Until stop(), stopped after a count of frames: a fixed duration gives fewer frames on
    # a loaded machine.
    probe.execute(f"rec = w.record({str(clip_path)!r}, seconds=None)", timeout=60)
    probe.wait_for("rec.frames >= 5", 120, "five recorded frames")
    probe.execute("rec.stop()", timeout=60)
    probe.wait_for("rec.done()", 60, "the recording to finish")
    frames = probe.eval("rec.wait(1).frames")
    assert frames >= 5, frames
    assert clip_path.stat().st_size > 0


def test_kernel_restart_shows_the_disconnected_state(box, colab):
    assert _frame_tracks(box) == 1
    box.restart_kernel()
    diag = lambda: box.diagnostics(20)  # noqa: E731
    frame = box.frame()
    wait_until(
        lambda: frame.locator(".segwidget").first.evaluate(JS_BANNER) == "DISCONNECTED",
        60,
        "the disconnected banner",
        on_timeout=diag,
    )
    assert "Re-run the cell" in (frame.locator(".segwidget").first.evaluate(JS_PLACEHOLDER) or "")
    wait_until(lambda: _frame_tracks(box) == 0, 30, "the camera released", on_timeout=diag)
    box.probe.wait_ready(120)
    assert box.probe.eval("'w' in globals()") is False


def _frame_tracks(box) -> int:
    return int(box.frame().locator("body").evaluate(JS_LIVE_TRACKS))


def test_colab_quickstart_runs_top_to_bottom_in_the_box(box, clip):
    """notebooks/colab_quickstart.ipynb in the (restarted) box kernel, cell by cell; the
    install cell is skipped (the box's venv has segwidget as its scripts install it)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "%pip install" in cells[0]
    assert "--no-deps" not in cells[0], "Colab's packages need no --no-deps any more"
    outputs_before = box.outputs.count()
    for code in cells[1:]:
        if code.lstrip().startswith("!"):
            continue  # a shell command for Colab's GPU; nothing to run here
        box.run(code, timeout=240)
        if "SegWidget(" in code:
            assert box.outputs.count() == outputs_before + 1
            box.wait_widget()
            page = SegWidgetPage(box, clip.video)
            page.wait_frames(3, timeout=240)
    log = [json.dumps(o) for o in box.page.evaluate("() => window.box.log")]
    assert box.probe.eval("w.comm is None"), log  # the last cell closed it
