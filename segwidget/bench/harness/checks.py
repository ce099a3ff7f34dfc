"""Checks shared by the Jupyter hosts' end-to-end tests (they raise AssertionError)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .host import SegWidgetPage
from .pixels import Explained, explain, voc_palette


def check_frames_flow(sw: SegWidgetPage, more: int = 10) -> dict[str, Any]:
    """Frames keep arriving in Python (``stats['frames_processed']`` grows) from the camera."""
    n0 = sw.frames_processed()
    n1 = sw.wait_frames(n0 + more, timeout=90)
    assert n1 > n0 + more
    stats = sw.stats()
    assert stats["profile"] == "fast", stats
    assert stats["backend"], stats
    assert sw.get("error") is None
    # The view draws the webcam at its own size.
    img = sw.canvas()
    assert img.shape[:2] == (sw.video.height, sw.video.width), img.shape
    return stats


def check_opacity(sw: SegWidgetPage) -> dict[float, Explained]:
    """``opacity`` set from Python changes the drawn pixels exactly as the renderer's rule."""
    pal = voc_palette()
    seen: dict[float, Explained] = {}
    sw.set(viz_mode="filled", class_filter=[], opacity=1.0)

    # Opaque: every pixel is a class colour.
    def opaque(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=1.0, colours=pal)
        return e.overlay > 0.97, e

    seen[1.0] = sw.wait_canvas(opaque, what="opacity 1.0: only class colours")

    # Transparent: the plain video.
    sw.set(opacity=0.0)

    def clear(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=0.0, colours=[])
        return e.video > 0.97, e

    seen[0.0] = sw.wait_canvas(clear, what="opacity 0.0: the plain video")

    # Half: round(v / 2 + c / 2) for a class colour c, which is not the video.
    sw.set(opacity=0.5)

    def half(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=0.5, colours=pal)
        return e.overlay > 0.95 and e.video < 0.5, e

    seen[0.5] = sw.wait_canvas(half, what="opacity 0.5: video and class colour, half each")
    return seen
