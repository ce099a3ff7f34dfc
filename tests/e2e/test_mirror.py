"""Every view mode, mirrored and not, judged by the pixels on screen (a screenshot, not a
canvas read): in JupyterLab's widget and on ``segwidget serve``'s page.

The fake camera plays the astronaut (nearly still) on a plain background and reports
``facingMode: "user"`` (as many laptop webcams do; Chromium's fake device reports none, so
an init script adds it), so the default ``mirror=None`` mirrors the view by itself. A bug
once hid the filled, contour and confidence overlays whenever the view was mirrored: the
flipped ``<video>`` painted over the overlay canvas. Reading the canvases would not show it,
so each check here takes a screenshot of what the stage shows, flips it back when the view
is mirrored, and compares it with the camera's own frame (read from the ``<video>`` just
before) and the engine's person mask of that frame:

- filled, blend, side-by-side (only ``person`` shown): the person changed, the rest not;
- contour: a line along the person's outline, nothing inside or outside it;
- confidence (opacity 1): hot colours on the person, cold ones elsewhere;
- blur: the background loses its detail, the face keeps it; replace: the background is gone.

A flip in the wrong place (video mirrored, overlay not) fails the "the rest not changed"
checks, since the photo is not symmetric.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from segwidget.bench.harness import (
    SegWidgetPage,
    WidgetHost,
    decode_data_url,
    launch_chromium,
    missing_module,
    wait_until,
)
from segwidget.bench.harness.person import blur_ratios, erode, make_person_clip, person_region
from segwidget.profiles import PROFILES

pytestmark = pytest.mark.e2e

TOKEN = "e2e-mirror-token-0123456789"
SELECTOR = ".segwidget"
CELLS = ["from segwidget import SegWidget\n\nw = SegWidget(profile='person')\nw"]
MODES = ["filled", "contour", "confidence", "side-by-side", "blend", "blur", "replace"]
CHANGED = 40  # a channel this far from the camera's pixel: the view drew something there

# The fake camera says it faces the user (Chromium's fake device reports no facingMode).
USER_FACING = """(() => {
  const get = MediaStreamTrack.prototype.getSettings;
  MediaStreamTrack.prototype.getSettings = function () {
    const s = get.call(this);
    return this.kind === 'video' ? { ...s, facingMode: 'user' } : s;
  };
})();"""

# Chrome over the picture (FPS figures, status pill) is hidden: the test reads the picture.
HIDE_CHROME = ".sw-stats, .sw-status { visibility: hidden !important; }"

# The camera's current frame (intrinsic size, never mirrored) and where the picture is on
# screen: the content box of the stage's bottom visible layer (the <video> in the overlay
# path, the canvas otherwise), in CSS pixels.
JS_VIEW = """(root) => {
  const stage = root.querySelector('.sw-stage');
  stage.scrollIntoView({ block: 'center' }); // nothing of the host's own (a status bar) over it
  const video = stage.querySelector('video');
  const shown = (el) => { const cs = getComputedStyle(el); const r = el.getBoundingClientRect();
    return cs.display !== 'none' && cs.visibility !== 'hidden' && Number(cs.opacity) > 0
      && r.width > 2 && r.height > 2; };
  const layer = [...stage.querySelectorAll(':scope > video, :scope > canvas')].filter(shown)[0];
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  c.getContext('2d').drawImage(video, 0, 0);
  const r = layer.getBoundingClientRect();
  const [iw, ih] = layer.tagName === 'VIDEO' ? [layer.videoWidth, layer.videoHeight]
    : [layer.width, layer.height];
  const s = Math.min(r.width / iw, r.height / ih);
  return { frame: c.toDataURL('image/png'),
    box: { x: r.left + (r.width - iw * s) / 2, y: r.top + (r.height - ih * s) / 2,
           width: iw * s, height: ih * s },
    mirrored: root.querySelector('.sw-toggle[title^="Mirror"]').getAttribute('aria-pressed') };
}"""


def look(page, root) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    """(camera frame RGB, screenshot of the picture at the frame's size per half, whether
    the toolbar says the view mirrors, the camera frame taken through the same scaling as
    the screenshot: up to the size shown, back down, for comparing fine detail)."""
    from PIL import Image

    view = root.evaluate(JS_VIEW)
    frame = decode_data_url(view["frame"])[..., :3]
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=view["box"]))).convert("RGB"))
    h, w = frame.shape[:2]
    halves = max(1, round(shot.shape[1] / shot.shape[0] * h / w))  # 2 in side-by-side
    shown = (round(shot.shape[1] / halves), shot.shape[0])
    shot = cv2.resize(shot, (w * halves, h), interpolation=cv2.INTER_AREA)
    scaled = cv2.resize(
        cv2.resize(frame, shown, interpolation=cv2.INTER_LINEAR),
        (w, h),
        interpolation=cv2.INTER_AREA,
    )
    return frame, shot, view["mirrored"] == "true", scaled


def unmirror(shot: np.ndarray, width: int) -> np.ndarray:
    """Each ``width``-wide half flipped back (the view mirrors each half in place)."""
    return np.concatenate(
        [shot[:, x : x + width][:, ::-1] for x in range(0, shot.shape[1], width)], axis=1
    )


def judge(mode: str, frame: np.ndarray, shot: np.ndarray, person: np.ndarray, face, scaled=None):
    """(ok, figures) for one screenshot, already flipped back to the camera's orientation;
    ``scaled``: the frame through the screenshot's scaling (blur's detail is measured
    against it)."""
    w = frame.shape[1]
    inside, outside = erode(person, 24), erode(~person, 24)
    band = cv2.dilate(person.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool) & ~erode(
        person, 10
    )
    pic = shot[:, w:] if mode == "side-by-side" else shot[:, :w]
    changed = np.abs(pic.astype(np.int16) - frame.astype(np.int16)).max(axis=-1) > CHANGED
    f = {
        "inside": round(float(changed[inside].mean()), 3),
        "outside": round(float(changed[outside].mean()), 3),
        "band": round(float(changed[band].mean()), 3),
    }
    if mode in ("filled", "blend", "side-by-side"):
        ok = f["inside"] >= (0.5 if mode == "blend" else 0.85) and f["outside"] <= 0.05
        if mode == "side-by-side":
            left = np.abs(shot[:, :w].astype(np.int16) - frame).max(axis=-1) > CHANGED
            f["left"] = round(float(left[inside | outside].mean()), 3)
            ok = ok and f["left"] <= 0.05
        return ok, f
    if mode == "contour":
        return f["band"] >= 0.015 and f["inside"] <= 0.05 and f["outside"] <= 0.05, f
    if mode == "confidence":
        r, b = pic[..., 0].astype(int), pic[..., 2].astype(int)
        f["hot_inside"] = round(float(((r > 180) & (b < 100))[inside].mean()), 3)
        f["cold_outside"] = round(float(((b > 180) & (r < 80))[outside].mean()), 3)
        return f["hot_inside"] >= 0.8 and f["cold_outside"] >= 0.8, f
    if mode == "blur":
        f.update(blur_ratios(pic, frame if scaled is None else scaled, person, face))
        return f["background"] < 0.5 and f["face"] > 0.5, f
    if mode == "replace":
        return f["outside"] >= 0.9 and f["inside"] <= 0.3, f
    raise ValueError(mode)


def face_box(frame: np.ndarray, clip) -> tuple[slice, slice]:
    index, _ = clip.video.nearest(frame)
    return clip.face(index)


def check_view(page, root, engine, clip, mode: str, mirror: bool, what: str) -> dict:
    """Poll screenshots until the view shows ``mode`` correctly with ``mirror``."""
    last: list = [None]

    def attempt():
        frame, shot, mirrored, scaled = look(page, root)
        if mirrored != mirror:
            last[0] = {"toolbar_mirror": mirrored}
            return None
        pic = unmirror(shot, frame.shape[1]) if mirror else shot
        person = person_region(engine, frame)
        ok, f = judge(mode, frame, pic, person, face_box(frame, clip), scaled)
        last[0] = f
        return (f,) if ok else None

    return wait_until(attempt, 60, what, interval=0.3, on_timeout=lambda: f"; last: {last[0]}")[0]


@pytest.fixture(scope="module")
def engine():
    if "person" not in PROFILES:
        pytest.skip("this checkout has no person profile")
    from segwidget import get_engine

    return get_engine("person")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, photos):
    # Nearly still (2 px of travel): what is on screen must not depend on how late the
    # view is on a loaded machine, only on where it draws.
    return make_person_clip(
        tmp_path_factory.mktemp("mirror-clip") / "astronaut.y4m", photos["astronaut"], travel=2
    )


@pytest.fixture(scope="module")
def launch(playwright_driver, chromium, clip, tmp_path_factory):
    contexts = []

    def launch_():
        ctx = launch_chromium(
            playwright_driver, chromium, clip.video.path, tmp_path_factory.mktemp("chromium-mirror")
        )
        ctx.add_init_script(USER_FACING)
        contexts.append(ctx)
        return ctx

    yield launch_
    for ctx in contexts:
        ctx.close()


def run_modes(page, root, engine, clip, host: str, set_mode, set_mirror, metrics) -> None:
    """Every mode with the camera's default mirror (on: it faces the user), then forced off."""
    for mirror in (True, False):
        set_mirror(mirror)
        for mode in MODES:
            set_mode(mode)
            got = check_view(
                page, root, engine, clip, mode, mirror, f"{host}: {mode}, mirror {mirror}"
            )
            metrics[f"mirror e2e, {host}: {mode}, mirror={mirror}"] = got


def test_lab_every_mode_mirrored_and_not(launch, tmp_path_factory, engine, clip, metrics):
    if missing_module("jupyterlab", "jupyter_client", "jupyter_server"):
        pytest.skip("jupyterlab is not installed (pip install jupyterlab)")
    host = WidgetHost("lab", tmp_path_factory.mktemp("jupyter-mirror"), CELLS, SELECTOR)
    try:
        host.start(launch)
        lab = SegWidgetPage(host, clip.video)
        lab.wait_frames(0, timeout=240)
        host.page.add_style_tag(content=HIDE_CHROME)
        lab.set(class_filter=["person"], opacity=1.0)
        assert lab.get("mirror") is None  # the default: the camera decides

        def set_mirror(on: bool) -> None:
            lab.set(mirror=None if on else False)  # None: mirrored because it faces the user

        run_modes(
            host.page,
            host.widget,
            engine,
            clip,
            "JupyterLab",
            lambda m: lab.set(viz_mode=m),
            set_mirror,
            metrics,
        )
        errors = [line for line in host.console if line.startswith("[pageerror]")]
        assert not errors, errors
    finally:
        host.close()


def test_page_every_mode_mirrored_and_not(launch, engine, clip, metrics):
    from segwidget.server.background import BackgroundServer
    from segwidget.server.config import ServerConfig

    srv = BackgroundServer(
        ServerConfig(host="127.0.0.1", port=0, profile="person", token=TOKEN)
    ).start()
    try:
        page = launch().new_page()
        logs: list[str] = []
        page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
        page.goto(f"{srv.url}&autostart=1")
        page.add_style_tag(content=HIDE_CHROME)
        root = page.locator(SELECTOR).first
        wait_until(
            lambda: any(
                c.session and c.session.stats.frames_processed >= 3 for c in srv.state.connections
            ),
            120,
            "3 frames from the page",
        )
        page.locator(".sw-legend-item[data-label='person']").click()  # only the person class
        page.locator("input.sw-opacity").evaluate(
            "(el) => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        toggle = page.locator(".sw-toggle[title^='Mirror']")

        def set_mirror(on: bool) -> None:
            if (toggle.get_attribute("aria-pressed") == "true") != on:
                toggle.click()

        def set_mode(mode: str) -> None:
            page.locator(f"button[data-mode='{mode}']").click()

        run_modes(page, root, engine, clip, "page", set_mode, set_mirror, metrics)
        assert not logs, logs
        page.close()
    finally:
        srv.stop()
