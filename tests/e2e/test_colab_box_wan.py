"""The Colab box (test_colab_box.py) as far from its kernel as Colab is: the box page and its
kernel WebSocket reached through the harness's WAN emulation (segwidget/bench/harness/wan.py:
150 ms added round trip, 10 Mbit/s up, 50 down), the output frame still on its own origin.

With the fake webcam and the ``person`` profile: the widget streams across the link, frames
go as JPEG, the "auto" window grows past two, the "auto" display draws each result over the
frame it came from (the view's records and the kernel's ``w.stats`` both say so), and the
overlay covers the person. Behaviour only; no figure is a pass/fail bar. One box start.
"""

from __future__ import annotations

import pytest

from segwidget.bench.e2e.configs import PERF_INIT
from segwidget.bench.harness import SegWidgetPage
from segwidget.bench.harness.wan import WanProxy
from tests.e2e.test_colab_box import (  # noqa: F401 (clip, engine: fixtures)
    clip,
    engine,
    open_box,
)
from tests.e2e.test_person import OPACITY, overlay_check

pytestmark = pytest.mark.e2e

RTT_MS = 150
UP_MBIT = 10
DOWN_MBIT = 50
JS_ALIGNED_60 = """() => window.__swperf && window.__swperf.renders
  .filter((r) => r.display === 'aligned').length >= 60"""
JS_FRAMES = "() => window.__swperf.frames.map((f) => [f.encoding, f.max_in_flight])"


@pytest.fixture(scope="module")
def far_box(playwright_driver, chromium, clip, tmp_path_factory):  # noqa: F811
    proxies: list[WanProxy] = []

    def through(url: str) -> str:
        port = int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        proxy = WanProxy(port, rtt_ms=RTT_MS, up_mbit=UP_MBIT, down_mbit=DOWN_MBIT, max_seconds=900)
        proxies.append(proxy.start())
        return proxy.url(url)

    home = tmp_path_factory.mktemp("colab-box-wan")
    try:
        with open_box(
            playwright_driver, chromium, clip, home, init_scripts=[PERF_INIT], url_hook=through
        ) as box:
            yield box, proxies[0]
    finally:
        for proxy in proxies:
            proxy.stop()


def test_streams_across_150_ms_aligned_with_a_larger_window_and_the_overlay_on_the_person(
    far_box,
    engine,  # noqa: F811
    clip,  # noqa: F811
    person_colour,
    metrics,
):
    box, proxy = far_box
    # the page (and so its kernel WebSocket) came through the proxy; the output frame is
    # still another origin, as in Colab
    assert box.page.url.startswith(f"http://127.0.0.2:{proxy.port}/static/box.html")
    src = box.outputs.first.get_attribute("src")
    assert src.startswith("http://127.0.0.2:"), src
    assert not src.startswith(f"{box.page_origin}/"), (src, box.page_origin)
    colab = SegWidgetPage(box, clip.video)
    colab.wait_frames(0, timeout=240)
    # 60 results drawn over their own frames in the output frame ("auto" engaged aligned)
    frame = box.outputs.last.element_handle().content_frame()
    frame.wait_for_function(JS_ALIGNED_60, timeout=240_000)
    sent = frame.evaluate(JS_FRAMES)
    assert {enc for enc, _ in sent} == {"jpeg"}  # the page is not localhost: JPEG, not raw
    assert max(w for _, w in sent) > 2  # the window grew past two across 150 ms
    assert frame.evaluate("() => document.querySelector('.sw-stage').dataset.display") == (
        "aligned"
    )
    # the kernel's stats say what the view did (from the frame feedback)
    stats = box.probe.wait_for(
        "w.stats if (w.stats.get('link') or {}).get('window_want') else None", timeout=60
    )
    assert stats["display"] == "aligned", stats
    assert stats["link"]["window_want"] > 2, stats["link"]
    assert stats["link"]["window"] >= 2, stats["link"]
    assert stats["link"]["base_ms"] >= RTT_MS, stats["link"]
    # the overlay covers the person, drawn over the frame it came from
    colab.set(viz_mode="filled", opacity=OPACITY, class_filter=["person"])
    got = colab.wait_canvas(
        overlay_check(engine, clip, person_colour), 60, "the overlay on the person only"
    )
    steady = colab.steady_stats()
    carried = proxy.carried()
    assert carried["up"] > 0, carried
    assert carried["down"] > 0, carried
    figures = {
        "link": stats["link"],
        "display": stats["display"],
        "max_in_flight_sent": max(w for _, w in sent),
        "steady": steady,
        "overlay": got,
        "carried_bytes": carried,
    }
    print("Colab box across 150 ms:", figures)
    metrics[f"Colab box, person, {RTT_MS} ms / {UP_MBIT} Mbit/s up"] = figures
