"""The ``person`` profile through the whole product, in JupyterLab and in ``segwidget serve``'s
page, with a fake webcam of the astronaut moving left to right on a plain background.

- Python's ``latest().mask``, upsampled to ``latest().frame``, is the engine's mask of that
  frame (>= 95 % of the pixels);
- the canvas shows the overlay on the person and not on the background: ``filled`` with
  only the person class shown, sampled inside and outside her (away from her edge by the
  distance she moves in the pipeline's latency), against the engine's mask of the video
  frame the canvas shows;
- in ``blur`` the canvas's background keeps far less high-frequency energy than the video's
  while her face keeps (nearly) all of it; the view asked for the confidence buffer.
"""

from __future__ import annotations

import pytest

from segwidget.bench.harness import (
    SegWidgetPage,
    WidgetHost,
    launch_chromium,
    missing_module,
    read_canvas,
    wait_until,
)
from segwidget.bench.harness.person import (
    blur_ratios,
    overlay_fractions,
    person_region,
)
from segwidget.postprocess import upsample_mask

pytestmark = pytest.mark.e2e

CELLS = ["from segwidget import SegWidget\n\nw = SegWidget(profile='person', mirror=False)\nw"]
SELECTOR = ".segwidget canvas.sw-canvas"
TOKEN = "e2e-person-token-0123456789"
OPACITY = 0.6


@pytest.fixture(scope="module")
def engine(person_engine):
    return person_engine


@pytest.fixture(scope="module")
def clip(person_clip):
    return person_clip


@pytest.fixture(scope="module")
def launch(playwright_driver, chromium, clip, tmp_path_factory):
    """A fresh Chromium context whose camera plays the astronaut clip."""
    contexts = []

    def launch_():
        profile = tmp_path_factory.mktemp("chromium-person")
        ctx = launch_chromium(playwright_driver, chromium, clip.video.path, profile)
        contexts.append(ctx)
        return ctx

    yield launch_
    for ctx in contexts:
        ctx.close()


def overlay_check(engine, clip, colour):
    """A canvas check: the overlay fractions against the frame the canvas shows."""

    def check(rgba):
        index, _ = clip.video.nearest(rgba)
        video = clip.video.frames[index]
        f = overlay_fractions(rgba, video, person_region(engine, video), colour, OPACITY)
        f["frame"] = index
        # The kernel segments the browser's small JPEG of the frame, this engine the clip's
        # frame itself: ambiguous patches (the dark shuttle stand) may differ a little.
        ok = f["inside_overlay"] >= 0.95 and f["outside_overlay"] <= 0.05
        return ok and f["outside_video"] >= 0.93, f

    return check


def blur_check(engine, clip):
    def check(rgba):
        index, _ = clip.video.nearest(rgba)
        video = clip.video.frames[index]
        r = blur_ratios(rgba, video, person_region(engine, video), clip.face(index))
        r["frame"] = index
        # (the nearest frame to a blurred canvas may be a pixel or two off: the face's
        # energy ratio is then a little under 1, the background's far below either way)
        return r["background"] < 0.3 and r["face"] > 0.6, r

    return check


# ------------------------------------------------------------------------------ JupyterLab


@pytest.fixture(scope="module")
def lab(launch, tmp_path_factory, clip, engine):
    if missing_module("jupyterlab", "jupyter_client", "jupyter_server"):
        pytest.skip("jupyterlab is not installed (pip install jupyterlab)")
    host = WidgetHost("lab", tmp_path_factory.mktemp("jupyter-person"), CELLS, SELECTOR)
    try:
        host.start(launch)
        page = SegWidgetPage(host, clip.video)
        page.wait_frames(0, timeout=240)
        yield page
    finally:
        host.close()


def test_lab_python_mask_is_the_engines_mask_of_its_frame(lab, engine, metrics):
    lab.wait_frames(lab.frames_processed() + 3)
    r = lab.latest()
    frame, mask = r["frame"], r["mask"]
    h, w = frame.shape[:2]
    assert r["profile"] == "person"
    ours = upsample_mask(mask, h, w)
    ref = engine.segment(frame).mask_at(h, w)
    agreement = float((ours == ref).mean())
    person = float((ref == engine.labels.index("person")).mean())
    metrics["person e2e, JupyterLab: latest().mask vs engine"] = {
        "agreement": round(agreement, 4),
        "person_fraction": round(person, 3),
        "frame": [w, h],
    }
    assert person > 0.15, "the astronaut is in the frame"
    assert agreement >= 0.95


def test_lab_canvas_overlay_is_on_the_person_only(lab, engine, clip, person_colour, metrics):
    lab.set(viz_mode="filled", opacity=OPACITY, class_filter=["person"])
    got = lab.wait_canvas(
        overlay_check(engine, clip, person_colour), 60, "the overlay on the person only"
    )
    metrics["person e2e, JupyterLab: overlay inside / outside the person"] = got
    print("overlay:", got)


def test_lab_blur_keeps_the_face_sharp_and_blurs_the_background(lab, engine, clip, metrics):
    lab.set(viz_mode="blur", class_filter=[])
    got = lab.wait_canvas(blur_check(engine, clip), 60, "a blurred background, a sharp face")
    metrics["person e2e, JupyterLab: blur high-frequency energy ratio (canvas / video)"] = got
    print("blur:", got)
    # the view asked for the confidence (soft edges), and the kernel sends it
    assert lab.probe.eval("w._session.want_confidence") is True


# ---------------------------------------------------------------------------- serve's page


@pytest.fixture(scope="module")
def page_server(engine):
    from segwidget.server.background import BackgroundServer
    from segwidget.server.config import ServerConfig

    srv = BackgroundServer(
        ServerConfig(host="127.0.0.1", port=0, profile="person", token=TOKEN)
    ).start()
    yield srv
    srv.stop()


def _session(srv):
    conns = [c for c in srv.state.connections if c.session is not None]
    return conns[0].session if len(conns) == 1 else None


def test_page_overlay_legend_isolation_and_blur(
    page_server, launch, engine, clip, person_colour, metrics
):
    srv = page_server
    page = launch().new_page()
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    diag = lambda: "\n" + "\n".join(logs[-30:])  # noqa: E731
    page.goto(f"{srv.url}&autostart=1&mirror=0")
    canvas = page.locator(SELECTOR)
    session = wait_until(lambda: _session(srv), 60, "the page's session", on_timeout=diag)
    wait_until(lambda: session.stats.frames_processed >= 5, 120, "5 frames", on_timeout=diag)

    # the legend: a click on "person" shows only that class
    page.locator(".sw-legend-item[data-label='person']").click()

    def poll(check, what):
        last = [None]

        def attempt():
            ok, info = check(read_canvas(canvas))
            last[0] = info
            return (info,) if ok else None

        return wait_until(
            attempt, 60, what, interval=0.2, on_timeout=lambda: f" {last[0]}{diag()}"
        )[0]

    got = poll(overlay_check(engine, clip, person_colour), "the page's overlay on the person only")
    metrics["person e2e, page: overlay inside / outside the person"] = got
    assert session.want_confidence is True  # soft edges in every mode: the confidence is sent

    page.locator("button[data-mode='blur']").click()
    got = poll(blur_check(engine, clip), "the page's blurred background")
    metrics["person e2e, page: blur high-frequency energy ratio (canvas / video)"] = got
    assert session.want_confidence is True
    assert not [line for line in logs if line.startswith("pageerror")], diag()
    page.close()
