"""Input-size buckets: frames of different sizes batched as one tensor (pure numpy).

A replica resizes each frame to the size a local engine would use (``Engine.model_hw``), then
pads it into the smallest of a few fixed bucket shapes (letterbox, centred) so that frames of
one bucket stack into one ``N x 3 x H x W`` batch; the padding is cut off the mask again.
Webcams' usual aspects (4:3, 16:9, 1:1 and their portrait twins) are buckets themselves, so
their frames need no padding and their masks equal a local engine's.
"""

from __future__ import annotations

import numpy as np

from ..profiles import IMAGENET_MEAN, input_hw

#: Width:height of the bucket shapes, landscape and portrait.
ASPECTS = ((16, 9), (4, 3), (1, 1), (3, 4), (9, 16))

#: Padding colour: the normalisation mean, which the network sees as zeros.
PAD_RGB = tuple(round(c * 255) for c in IMAGENET_MEAN)

Shape = tuple[int, int]


def bucket_shapes(long_side: int, multiple: int) -> list[Shape]:
    """The bucket (height, width) shapes for a model long side, smallest area first."""
    shapes = {input_hw(h, w, long_side, multiple) for w, h in ASPECTS}
    return sorted(shapes, key=lambda s: (s[0] * s[1], s))


def choose_bucket(hw: Shape, buckets: list[Shape]) -> Shape:
    """The smallest bucket holding ``hw``; ``hw`` itself if none does (a batch of its own)."""
    h, w = hw
    fits = [b for b in buckets if b[0] >= h and b[1] >= w]
    return min(fits, key=lambda b: b[0] * b[1]) if fits else (h, w)


def letterbox(rgb: np.ndarray, bucket: Shape) -> tuple[np.ndarray, Shape]:
    """Centre an ``H x W x 3`` uint8 image in ``bucket``; returns it and its (top, left) offset."""
    h, w = rgb.shape[:2]
    bh, bw = bucket
    if (h, w) == (bh, bw):
        return rgb, (0, 0)
    if h > bh or w > bw:
        raise ValueError(f"a {w}x{h} image does not fit the {bw}x{bh} bucket")
    top, left = (bh - h) // 2, (bw - w) // 2
    out = np.empty((bh, bw, 3), np.uint8)
    out[...] = PAD_RGB
    out[top : top + h, left : left + w] = rgb
    return out, (top, left)


def unletterbox(mask: np.ndarray, hw: Shape, offset: Shape) -> np.ndarray:
    """The ``hw`` part of a bucket-sized mask at ``offset`` (undoes :func:`letterbox`)."""
    (h, w), (top, left) = hw, offset
    if mask.shape[:2] == (h, w):
        return mask
    return np.ascontiguousarray(mask[top : top + h, left : left + w])
