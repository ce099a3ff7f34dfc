"""What the engine derives from a class-index mask."""

from __future__ import annotations

import numpy as np


def class_fractions(mask: np.ndarray, num_classes: int) -> list[tuple[int, float]]:
    """``[(class index, pixel fraction), ...]`` of the classes present, largest first."""
    counts = np.bincount(mask.ravel(), minlength=num_classes)
    present = np.flatnonzero(counts)
    order = present[np.argsort(-counts[present], kind="stable")]
    total = float(mask.size)
    return [(int(i), float(counts[i]) / total) for i in order]


def upsample_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a class-index mask (``js/src/mask-geometry.js``
    ``upsampleNearest``); the views and ``mask_at()`` draw smooth edges instead
    (:mod:`segwidget.edges`).

    Output pixel ``(x, y)`` takes ``mask[(2y + 1) * mh // (2H), (2x + 1) * mw // (2W)]``
    (the source pixel under the output pixel's centre, in integer arithmetic); OpenCV's
    nearest modes differ from it by a row at times. Returns ``mask`` itself when the size
    already matches.
    """
    mh, mw = mask.shape[:2]
    if (mh, mw) == (height, width):
        return mask
    if height <= 0 or width <= 0:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    ys = (2 * np.arange(height, dtype=np.int64) + 1) * mh // (2 * height)
    xs = (2 * np.arange(width, dtype=np.int64) + 1) * mw // (2 * width)
    return np.take(np.take(mask, ys, axis=0), xs, axis=1)
