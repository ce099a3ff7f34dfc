"""Pixel checks of the canvas the view draws, against the clip the fake camera plays.

The view composites the *current* video frame with the newest mask, so a check first finds
which source frame the canvas shows (the one that best explains its pixels) and then applies
the renderer's rules (``js/src/renderer.js``) per pixel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .video import FakeVideo


def voc_palette() -> list[list[int]]:
    from segwidget.labels import resolve_palette

    return resolve_palette("voc", 21).tolist()


# --------------------------------------------------------------------------------------------
# Pixel analysis
# --------------------------------------------------------------------------------------------


@dataclass
class Explained:
    """How well a canvas is explained by one source frame and the renderer's rules."""

    frame: int  # index of the best-explaining source frame
    video: float  # fraction of sampled pixels equal to the video (within tol)
    overlay: float  # fraction equal to the composite of the video with one allowed colour
    either: float  # fraction explained by one or the other

    def __str__(self) -> str:
        return (
            f"frame {self.frame}: video {self.video:.3f}, overlay {self.overlay:.3f}, "
            f"explained {self.either:.3f}"
        )


def composite(video: np.ndarray, colours: np.ndarray, opacity: float, mode: str) -> np.ndarray:
    """The renderer's per-pixel rule for ``video`` (..., 3) with each of ``colours`` (k, 3).

    Returns (k, ..., 3) float64: ``filled`` (also contour boundaries) and ``blend`` (HSV).
    """
    v = video.astype(np.float64)[None]
    c = colours.astype(np.float64).reshape((-1,) + (1,) * (video.ndim - 1) + (3,))
    a = opacity
    if mode == "filled":
        return np.floor(v * (1 - a) + c * a + 0.5)
    if mode == "blend":
        value = v.max(axis=-1, keepdims=True)
        cmax = c.max(axis=-1, keepdims=True)
        t = np.where(cmax > 0, c * value / np.maximum(cmax, 1e-9), value)
        m = v * (1 - a) + t * a
        big = m.max(axis=-1, keepdims=True)
        return np.where(big > 0, np.floor(m * value / np.maximum(big, 1e-9) + 0.5), 0)
    raise ValueError(mode)


def _explain_frames(
    rgb: np.ndarray,
    refs: np.ndarray,
    frames: np.ndarray,
    step: int,
    opacity: float,
    pal: np.ndarray,
    mode: str,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate frame: (is_video, is_overlay) boolean maps on a ``step`` grid."""
    h, w = rgb.shape[:2]
    ys = np.arange(step // 2, h, step)
    xs = np.arange(step // 2, w, step)
    c = rgb[np.ix_(ys, xs)].astype(np.float64)  # (sy, sx, 3)
    v = refs[frames][:, ys][:, :, xs].astype(np.float64)  # (n, sy, sx, 3)
    is_video = np.abs(c[None] - v).max(axis=-1) <= tol  # (n, sy, sx)
    is_overlay = np.zeros_like(is_video)
    for colour in pal:
        expect = composite(v, colour[None], opacity, mode)[0]  # (n, sy, sx, 3)
        is_overlay |= np.abs(expect - c[None]).max(axis=-1) <= tol
    return is_video, is_overlay


def explain(
    canvas: np.ndarray,
    video: FakeVideo,
    *,
    opacity: float,
    colours: Iterable[Sequence[int]],
    mode: str = "filled",
    tol: float = 4.0,
    step: int = 6,
) -> Explained:
    """Which fraction of the canvas is plain video, and which the composite with ``colours``.

    Pixels are point-sampled on a ``step`` grid (the rules hold per pixel, so no resampling
    blurs them). Every source frame is tried on a coarse grid, the best few on the fine one;
    the frame explaining most pixels wins. ``tol`` absorbs the video's own noise (YUV
    decoding differences between Chromium and :func:`i420_to_rgb`).
    """
    rgb = canvas[..., :3]
    h, w = rgb.shape[:2]
    refs = video.frames if (w, h) == (video.width, video.height) else video.scaled(w, h)
    refs = np.asarray(refs)
    pal = np.asarray(list(colours), dtype=np.float64).reshape(-1, 3)
    args = (opacity, pal, mode, tol)
    coarse_v, coarse_o = _explain_frames(rgb, refs, np.arange(len(refs)), step * 4, *args)
    score = (coarse_v | coarse_o).mean(axis=(1, 2)) + 1e-3 * coarse_v.mean(axis=(1, 2))
    candidates = np.argsort(-score, kind="stable")[:6]
    is_video, is_overlay = _explain_frames(rgb, refs, candidates, step, *args)
    either = (is_video | is_overlay).mean(axis=(1, 2))
    best = int(np.argmax(either + 1e-3 * is_video.mean(axis=(1, 2))))
    return Explained(
        int(candidates[best]),
        float(is_video[best].mean()),
        float(is_overlay[best].mean()),
        float(either[best]),
    )
