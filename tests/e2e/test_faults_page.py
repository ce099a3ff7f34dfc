"""Faults the standalone page meets, in headless Chromium: the server restarts while the page
streams. The page shows the loss, reconnects by itself (with backoff) and streams again with
its settings, on the same port, without a reload."""

from __future__ import annotations

import pytest

from segwidget.bench.harness import wait_until
from segwidget.server.app import STATIC_DIR
from segwidget.server.background import BackgroundServer
from segwidget.server.config import ServerConfig

TOKEN = "e2e-faults-token-0123456789"

JS_BANNER = """() => { const b = document.querySelector('.segwidget [role=alert]');
  return b && !b.hidden ? b.querySelector('.sw-banner-code').textContent : null; }"""


def _config(port: int) -> ServerConfig:
    return ServerConfig(host="127.0.0.1", port=port, weights="random", token=TOKEN)


def _session(server: BackgroundServer):
    conns = [c for c in server.state.connections if c.session is not None]
    return conns[0] if len(conns) == 1 else None


@pytest.fixture
def page(launch_browser, fast_engine):
    if not (STATIC_DIR / "page.js").is_file():
        pytest.skip("the page is not built (segwidget/static/page.js): npm run build")
    ctx = launch_browser()
    page = ctx.new_page()
    page.logs = []
    page.on("console", lambda m: page.logs.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.logs.append(f"pageerror: {e}"))
    yield page
    page.close()


def test_the_page_reconnects_after_a_server_restart_and_resumes(page):
    diag = lambda: "\n" + "\n".join(page.logs[-30:])  # noqa: E731
    first = BackgroundServer(_config(0)).start()
    port = first.port
    second = None
    try:
        page.goto(f"{first.url}&autostart=1")
        conn = wait_until(lambda: _session(first), 60, "the page's WebSocket", on_timeout=diag)
        wait_until(lambda: conn.session.stats.frames_processed >= 5, 120, "5 frames")
        page.locator("input.sw-opacity").fill("0.3")  # a setting the server keeps a copy of
        wait_until(lambda: conn.viz.opacity == 0.3, 30, "update_viz", on_timeout=diag)

        first.stop()  # the server goes away mid-stream
        wait_until(
            lambda: page.evaluate(JS_BANNER) == "DISCONNECTED",
            30,
            "the page to show the lost connection",
            on_timeout=diag,
        )
        assert page.locator("#sw-conn").get_attribute("data-state") == "closed"

        second = BackgroundServer(_config(port)).start()  # back, same address
        conn2 = wait_until(lambda: _session(second), 60, "the page to reconnect", on_timeout=diag)
        wait_until(
            lambda: conn2.session.stats.frames_processed >= 5,
            120,
            "5 frames after the reconnect",
            on_timeout=diag,
        )
        wait_until(lambda: conn2.viz.opacity == 0.3, 30, "the settings again", on_timeout=diag)
        assert page.evaluate(JS_BANNER) is None  # the banner cleared on its own
        assert conn2.binary
        assert conn2.session.stats.errors == 0
        assert not [x for x in page.logs if x.startswith("pageerror")], diag()
    finally:
        if second is not None:
            second.stop()
        first.stop()


# The page's own record of what it sent and drew, and a switch for the tab's visibility
# (headless Chromium's tab never hides by itself: `visibilityState` is overridden).
INIT_SCRIPT = """
window.__swEvents = [];
// [kind, seq, when]: a frame's t_sent, a result's t_received (one client clock)
document.addEventListener('segwidget:frame', (e) => {
  window.__swEvents.push(['frame', e.detail.seq, e.detail.t_sent]);
}, true);
document.addEventListener('segwidget:render', (e) => {
  window.__swEvents.push(['render', e.detail.seq, e.detail.t_received]);
}, true);
window.__swHidden = false;
Object.defineProperty(document, 'visibilityState', {
  configurable: true, get: () => (window.__swHidden ? 'hidden' : 'visible'),
});
Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__swHidden });
window.__swSetHidden = (hidden) => {
  window.__swHidden = hidden;
  document.dispatchEvent(new Event('visibilitychange'));
  return window.__swEvents.length;  // the mark: events after it came after the change
};
"""
JS_EVENTS_SINCE = "(mark) => window.__swEvents.slice(mark)"
JS_VIDEO_TIME = """() => {
  const v = document.querySelector('.segwidget video'); return v ? v.currentTime : 0; }"""
# Fire the track's `ended` (track.stop() would not); the banner shows at once.
JS_END_TRACK = """() => {
  const track = document.querySelector('.segwidget video').srcObject.getVideoTracks()[0];
  const mark = window.__swEvents.length;
  track.dispatchEvent(new Event('ended'));
  const b = document.querySelector('.segwidget [role=alert]');
  return [mark, !b.hidden ? b.querySelector('.sw-banner-code').textContent : null];
}"""


def _streaming_page(page, server: BackgroundServer, frames: int = 5):
    diag = lambda: "\n" + "\n".join(page.logs[-30:])  # noqa: E731
    page.add_init_script(INIT_SCRIPT)
    page.goto(f"{server.url}&autostart=1")
    conn = wait_until(lambda: _session(server), 60, "the page's WebSocket", on_timeout=diag)
    stats = conn.session.stats
    wait_until(lambda: stats.frames_processed >= frames, 120, "frames", on_timeout=diag)
    return conn, diag


def test_a_hidden_tab_sends_nothing_and_resumes_without_a_burst(page):
    server = BackgroundServer(_config(0)).start()
    try:
        conn, diag = _streaming_page(page, server)
        hidden_at = page.evaluate("() => window.__swSetHidden(true)")
        # the camera keeps delivering (its clock runs on) while nothing is sent
        t0 = page.evaluate(JS_VIDEO_TIME)
        wait_until(lambda: page.evaluate(JS_VIDEO_TIME) >= t0 + 2.0, 30, "2 s of video, hidden")
        processed = conn.session.stats.frames_processed
        sent_hidden = [e for e in page.evaluate(JS_EVENTS_SINCE, hidden_at) if e[0] == "frame"]
        assert sent_hidden == [], diag()

        shown_at = page.evaluate("() => window.__swSetHidden(false)")
        wait_until(
            lambda: sum(e[0] == "render" for e in page.evaluate(JS_EVENTS_SINCE, shown_at)) >= 3,
            60,
            "results after the tab is shown",
            on_timeout=diag,
        )
        events = page.evaluate(JS_EVENTS_SINCE, shown_at)
        sent = {seq: t for kind, seq, t in events if kind == "frame"}
        first_new = min(sent)
        received = min(t for kind, seq, t in events if kind == "render" and seq >= first_new)
        # at most the in-flight window (2) went out before the first result came: no burst
        before_first_result = [seq for seq, t in sent.items() if t < received]
        assert 1 <= len(before_first_result) <= 2, events
        assert conn.session.stats.frames_processed > processed
        assert conn.session.stats.errors == 0
        assert not [x for x in page.logs if x.startswith("pageerror")], diag()
    finally:
        server.stop()


def test_a_camera_that_ends_says_camera_closed_and_streams_again_when_it_returns(page):
    server = BackgroundServer(_config(0)).start()
    try:
        conn, diag = _streaming_page(page, server)
        mark, code = page.evaluate(JS_END_TRACK)
        assert code == "CAMERA_CLOSED", diag()
        # the fake camera is there again: the retry (after 1 s) opens it, the banner clears
        wait_until(lambda: page.evaluate(JS_BANNER) is None, 30, "no banner", on_timeout=diag)
        processed = conn.session.stats.frames_processed
        wait_until(
            lambda: sum(e[0] == "render" for e in page.evaluate(JS_EVENTS_SINCE, mark)) >= 5,
            60,
            "results from the camera again",
            on_timeout=diag,
        )
        assert conn.session.stats.frames_processed >= processed + 3
        assert page.locator(".sw-video").evaluate("v => v.srcObject !== null")
        assert not [x for x in page.logs if x.startswith("pageerror")], diag()
    finally:
        server.stop()
