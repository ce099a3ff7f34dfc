"""What the engine derives from a class-index mask."""

from __future__ import annotations

import cv2
import numpy as np


def class_fractions(mask: np.ndarray, num_classes: int) -> list[tuple[int, float]]:
    """``[(class index, pixel fraction), ...]`` of the classes present, largest first."""
    counts = np.bincount(mask.ravel(), minlength=num_classes)
    present = np.flatnonzero(counts)
    order = present[np.argsort(-counts[present], kind="stable")]
    total = float(mask.size)
    return [(int(i), float(counts[i]) / total) for i in order]


def upsample_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a class-index mask to ``height x width``."""
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
