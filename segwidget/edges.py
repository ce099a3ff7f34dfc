"""Smooth mask edges at display resolution (design decision 18; ``js/src/edges.js`` in the
browser, bit-exact with this module: ``tests/test_edges.py`` runs both).

All per-pixel mask work happens at mask resolution; the scale-up is bilinear with pixel
centres aligned and the weights quantised to 1/256 (integer maths, so numpy and the browser
agree bit for bit). Per display pixel the result is an :class:`EdgeField`:

* ``k1``: the class drawn there, ``k2``: the one across the nearest edge (``k1`` away from
  edges), ``t``: the share of ``k1`` (0..255) in an anti-aliased mix of the two, ``line``: the
  contour's coverage (0..255).
* Class masks, the bilinear one-hot vote: each class's one-hot plane is summed over 3x3 at
  mask resolution (border replicated), scaled up bilinearly; the largest weight wins (ties:
  the lower class index), the runner-up is ``k2``. The margin between them, times the
  display's scale, estimates the distance ``d`` (display px) to the boundary:
  ``t = min(1, 0.5 + d)``, ``line = clamp(1.5 - d)`` (a 2-px line, one px on each side).
* Soft masks (the ``person`` profile's confidence ``p``, 0..255): ``A`` = bilinear ``p``;
  ``k1`` is person (1) where ``A >= 0.5`` (what ``mask_at`` gives), else background (0),
  ``k2`` the other; the person's share is ``A`` itself (soft masks keep their ramp, so the
  overlay paths can scale a mask-size field bilinearly and draw the same), and the
  contour's ``line = clamp(1.5 - d)`` with ``d = |A - 0.5| / |grad A|`` (display px to the
  0.5 line; ``grad`` by central differences of the bilinear sums, clamped at the border).

``alpha_at`` gives the background effects' person alpha: ``A`` through a smoothstep ramp
``0.5 -+ RAMP`` (a sharper cut-out: no glow, no ghost of the old background); a profile
without a confidence uses :func:`class_alpha` (the person class's 3x3 share) as ``p``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["RAMP", "EdgeField", "alpha_at", "bilinear_taps", "class_alpha", "edge_field", "mask_at"]

#: Half-width of the soft mask's smoothstep ramp around 0.5 (probability units).
RAMP = 0.15
_Q = 256  # bilinear weights in 1/256
_TOTAL = (3 * _Q) ** 2  # sum of the vote weights of one display pixel
_LEVELS = 255 * _Q  # soft levels: (bilinear sum) >> 8 is 0..65280
_HALF = 255 * _Q * _Q  # twice the bilinear sum of probability 0.5


class EdgeField(NamedTuple):
    """Per display pixel (all ``H x W`` uint8): see the module docstring."""

    k1: np.ndarray
    k2: np.ndarray
    t: np.ndarray
    line: np.ndarray


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    u = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def soft_table() -> np.ndarray:
    """The ramp's uint8 look-up table over the 65281 soft levels (``js/src/edges.js``)."""
    a = np.arange(_LEVELS + 1, dtype=np.float64) / _LEVELS
    return np.floor(255.0 * _smoothstep(0.5 - RAMP, 0.5 + RAMP, a) + 0.5).astype(np.uint8)


_SOFT_T = soft_table()


def _soft_line(total: np.ndarray) -> np.ndarray:
    """The contour's coverage from the bilinear sums: 1.5 px minus the distance to 0.5."""
    p = np.pad(total, 1, mode="edge")
    gx = p[1:-1, 2:] - p[1:-1, :-2]
    gy = p[2:, 1:-1] - p[:-2, 1:-1]
    g = np.sqrt((gx * gx + gy * gy).astype(np.float64))
    off = np.abs(2 * total - _HALF).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(g > 0, off / np.where(g > 0, g, 1.0), np.inf)
    return np.floor(255.0 * np.clip(1.5 - d, 0.0, 1.0) + 0.5).astype(np.uint8)


def bilinear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i0, i1, f)`` per output position: source indices and ``i1``'s weight in 1/256.

    Source coordinate ``(i + 0.5) * src / dst - 0.5`` (centres aligned), clamped to the
    edge pixels; ``f = round(frac * 256)`` in integer arithmetic."""
    num = (2 * np.arange(dst, dtype=np.int64) + 1) * src - dst
    i0 = np.floor_divide(num, 2 * dst)
    f = ((num - i0 * 2 * dst) * _Q + dst) // (2 * dst)
    carry = f == _Q
    i0[carry] += 1
    f[carry] = 0
    low = i0 < 0
    i0[low], f[low] = 0, 0
    high = i0 >= src - 1
    i0[high], f[high] = src - 1, 0
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, f


def _bilinear_sum(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    """``plane`` (small ints) scaled to ``h x w``: the weighted sum in units of 1/65536."""
    y0, y1, fy = bilinear_taps(plane.shape[0], h)
    x0, x1, fx = bilinear_taps(plane.shape[1], w)
    p = plane.astype(np.int64)
    top = p[y0][:, x0] * (_Q - fx) + p[y0][:, x1] * fx
    bottom = p[y1][:, x0] * (_Q - fx) + p[y1][:, x1] * fx
    return top * (_Q - fy)[:, None] + bottom * fy[:, None]


def _box3(onehot: np.ndarray) -> np.ndarray:
    """3x3 sums (0..9) of a 0/1 plane, border replicated."""
    p = np.pad(onehot.astype(np.int16), 1, mode="edge")
    rows = p[:-2] + p[1:-1] + p[2:]
    return rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]


def _scale(mask_shape: tuple[int, int], h: int, w: int) -> float:
    """The distance factor: display px per unit of vote margin."""
    s = (w / mask_shape[1] + h / mask_shape[0]) / 2
    return 1.5 * s / _TOTAL


def _votes(mask: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k1, k2, margin)``: the winner, the runner-up and ``W1 - W2`` (int64)."""
    classes = np.unique(mask)
    best = np.zeros((h, w), np.int64)
    second = np.zeros((h, w), np.int64)
    k1 = np.zeros((h, w), np.uint8)
    k2 = np.zeros((h, w), np.uint8)
    for c in classes:  # ascending: a tie keeps the lower class index
        wc = _bilinear_sum(_box3(mask == c), h, w)
        top = wc > best
        up = ~top & (wc > second)
        second = np.where(top, best, np.where(up, wc, second))
        k2 = np.where(top, k1, np.where(up, c, k2)).astype(np.uint8)
        best = np.where(top, wc, best)
        k1 = np.where(top, c, k1).astype(np.uint8)
    k2 = np.where(second > 0, k2, k1).astype(np.uint8)
    return k1, k2, best - second


def edge_field(mask: np.ndarray, soft: np.ndarray | None, h: int, w: int) -> EdgeField:
    """The :class:`EdgeField` of ``mask`` (uint8 classes) at ``h x w``; with ``soft`` (the
    person probability, uint8, the mask's shape) the two classes come from it instead."""
    if soft is not None:
        total = _bilinear_sum(soft, h, w)
        share = ((total + (1 << 15)) >> 16).astype(np.uint8)  # round(255 A)
        person = total * 2 >= _HALF
        t = np.where(person, share, 255 - share).astype(np.uint8)
        k1 = person.astype(np.uint8)
        return EdgeField(k1, 1 - k1, t, _soft_line(total))
    k1, k2, margin = _votes(mask, h, w)
    d = margin * _scale(mask.shape, h, w)
    t = np.floor(255.0 * np.minimum(1.0, 0.5 + d) + 0.5).astype(np.uint8)
    line = np.floor(255.0 * np.clip(1.5 - d, 0.0, 1.0) + 0.5).astype(np.uint8)
    alone = k1 == k2  # no other class in reach: no edge (also when scaling down)
    t[alone] = 255
    line[alone] = 0
    return EdgeField(k1, k2, t, line)


def mask_at(mask: np.ndarray, soft: np.ndarray | None, h: int, w: int) -> np.ndarray:
    """The smooth class mask at ``h x w``: ``soft`` (bilinear) cut at 0.5 where given (1 =
    person), else the bilinear one-hot vote."""
    if soft is not None:
        return (_bilinear_sum(soft, h, w) * 2 >= _HALF).astype(np.uint8)
    return _votes(mask, h, w)[0]


def alpha_at(alpha: np.ndarray, h: int, w: int) -> np.ndarray:
    """The background effects' person alpha at ``h x w`` (uint8): ``alpha`` (uint8 at mask
    resolution) scaled bilinearly through the smoothstep ramp."""
    return _SOFT_T[_bilinear_sum(alpha, h, w) >> 8]


def class_alpha(mask: np.ndarray, k: int) -> np.ndarray:
    """Class ``k``'s one-hot plane summed over 3x3 (border replicated) as uint8 0..255:
    ``round(255 * n / 9)``, the person alpha of a profile without a confidence."""
    return ((_box3(mask == k).astype(np.int32) * 510 + 9) // 18).astype(np.uint8)


def heat_level(alpha: np.ndarray, h: int, w: int) -> np.ndarray:
    """``alpha`` (uint8) scaled bilinearly to ``h x w``, rounded: the confidence view's level."""
    return ((_bilinear_sum(alpha, h, w) + (1 << 15)) >> 16).astype(np.uint8)
