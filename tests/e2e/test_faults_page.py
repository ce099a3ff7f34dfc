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
        page.locator("input.sw-range").fill("0.3")  # a setting the server keeps a copy of
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
