"""SegWidget in Voila, end to end: frames flow and a setting changes the pixels."""

from __future__ import annotations

import pytest

from segwidget.bench.harness.checks import check_frames_flow, check_opacity

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sw(open_segwidget):
    page = open_segwidget("voila")
    print("Voila startup (s):", page.host.timings)
    return page


def test_frames_flow(sw, metrics):
    stats = check_frames_flow(sw)
    metrics["Voila, fast profile, random weights"] = {
        k: stats.get(k) for k in ("fps", "latency_ms", "inference_ms", "frames_processed")
    }


def test_opacity_changes_pixels(sw):
    seen = check_opacity(sw)
    print({k: str(v) for k, v in seen.items()})
