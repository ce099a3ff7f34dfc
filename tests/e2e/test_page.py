"""The standalone page of ``segwidget serve`` in headless Chromium with a fake webcam.

The server runs in this process (a real uvicorn on a free loopback port, random weights);
Chromium plays a Y4M clip made of scikit-image photos as its camera. The page must connect
with the token, speak the binary protocol, draw the segmentation over the video and keep its
stats live; its controls reach the server through ``update_viz``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from segwidget.bench.harness import palette_fraction, read_canvas, wait_until
from segwidget.labels import PALETTES
from segwidget.server.app import STATIC_DIR
from segwidget.server.background import BackgroundServer
from segwidget.server.config import ServerConfig

TOKEN = "e2e-page-token-0123456789"
VOC = [tuple(c) for c in PALETTES["voc"].tolist()]


@pytest.fixture(scope="module")
def page_server(fast_engine):
    if not (STATIC_DIR / "index.html").is_file() or not (STATIC_DIR / "page.js").is_file():
        pytest.skip("the page is not built (segwidget/static/index.html, page.js): npm run build")
    srv = BackgroundServer(
        ServerConfig(host="127.0.0.1", port=0, weights="random", token=TOKEN)
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def browser_page(page_server, launch_browser):
    ctx = launch_browser()
    page = ctx.new_page()
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    page.logs = logs
    yield page
    page.close()


def _connection(server: BackgroundServer):
    conns = [c for c in server.state.connections if c.session is not None]
    return conns[0] if len(conns) == 1 else None


def _fps(page) -> float:
    text = page.locator(".sw-fps").text_content() or ""
    m = re.match(r"([\d.]+) FPS", text)
    return float(m.group(1)) if m else 0.0


def test_a_refused_camera_leaves_the_start_button_with_the_reason(page_server, browser_page):
    """The page starts the camera by itself; when the browser refuses it, the placeholder
    keeps the Start button and says why, and no frame is sent."""
    page, srv = browser_page, page_server
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    page.goto(srv.url)
    text = page.locator(".sw-placeholder p")
    text.filter(has_text="The camera did not start: Camera permission was denied").wait_for(
        timeout=30_000
    )
    assert page.locator(".sw-placeholder button").is_visible()
    assert page.locator(".sw-banner-code").text_content() == "CAMERA_DENIED"
    conn = wait_until(lambda: _connection(srv), 60, "the page's WebSocket")
    assert conn.session.stats.frames_processed == 0


def test_page_draws_the_overlay_and_live_stats(page_server, browser_page, fake_video):
    page, srv = browser_page, page_server
    diag = lambda: "\n" + "\n".join(page.logs[-30:])  # noqa: E731
    page.goto(srv.url)  # no click, no ?autostart: the page starts the camera by itself
    canvas = page.locator(".segwidget canvas.sw-canvas")
    canvas.wait_for(state="attached", timeout=30_000)

    # the page connected with the token and speaks the binary protocol
    conn = wait_until(lambda: _connection(srv), 60, "the page's WebSocket", on_timeout=diag)
    assert conn.binary
    stats = conn.session.stats
    wait_until(
        lambda: stats.frames_processed >= 10, 120, "10 frames from the page", on_timeout=diag
    )

    # live stats: a positive FPS, inference time, and they keep changing while frames flow
    def live():
        info = page.locator(".sw-stats-info").text_content() or ""
        return _fps(page) > 0 and re.search(r"inference [\d.]+ ms", info)

    wait_until(live, 30, "FPS and the server's inference time in the stats", on_timeout=diag)
    seen = {page.locator(".sw-stats").inner_text()}
    start = stats.frames_processed

    def stats_changed():
        seen.add(page.locator(".sw-stats").inner_text())
        return len(seen) >= 3 and stats.frames_processed >= start + 10

    wait_until(stats_changed, 60, "the stats overlay to update", on_timeout=diag)
    assert stats.errors == 0

    # the overlay: at opacity 1 every pixel of the canvas is a class colour of the palette
    page.locator("input.sw-opacity").fill("1")
    wait_until(lambda: conn.viz.opacity == 1.0, 30, "update_viz from the slider", on_timeout=diag)

    def solid():
        img = read_canvas(canvas)
        return (img,) if palette_fraction(img, VOC) > 0.97 else None

    (img,) = wait_until(solid, 30, "the canvas drawn in palette colours", on_timeout=diag)
    # not a blank canvas: class 0 is black in VOC, so ask for some other class colour too
    assert palette_fraction(img, VOC[1:]) > 0.01
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) >= 2

    # ... and at opacity 0 it is the camera's picture (the fake webcam clip)
    page.locator("input.sw-opacity").fill("0")
    wait_until(lambda: conn.viz.opacity == 0.0, 30, "update_viz from the slider", on_timeout=diag)

    def video():
        img = read_canvas(canvas)
        _, diff = fake_video.nearest(img)
        return (img,) if diff < 10 and palette_fraction(img, VOC) < 0.5 else None

    (img,) = wait_until(video, 30, "the canvas showing the video", on_timeout=diag)

    # side-by-side doubles the width: video on the left, the mask on the right
    page.locator('[data-mode="side-by-side"]').click()
    wait_until(
        lambda: conn.viz.mode == "side-by-side", 30, "update_viz from the buttons", on_timeout=diag
    )
    (wide,) = wait_until(
        lambda: (lambda c: (c,) if c.shape[1] == 2 * img.shape[1] else None)(read_canvas(canvas)),
        30,
        "a side-by-side canvas",
        on_timeout=diag,
    )
    assert palette_fraction(wide[:, wide.shape[1] // 2 :], VOC) > 0.97
    assert not [line for line in page.logs if line.startswith("pageerror")], diag()


def test_page_without_the_token_is_refused(page_server, browser_page):
    response = browser_page.goto(page_server.base_url + "/")
    assert response.status == 403
    assert "token" in browser_page.content()
