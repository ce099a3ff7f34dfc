"""Python rendering of the segmentation composite (numpy / OpenCV).

The browser renders the overlay itself (``js/src/renderer.js``, design decision 4); this
module reproduces the same pixels for snapshots, recordings, kernel-side sources and the
server's colorized-PNG compatibility protocol. The maths is the one documented at the top of
``renderer.js`` and is bit-exact with it (``tests/test_render.py`` checks that against node):

* Edges (design decision 18, :mod:`segwidget.edges`): the mask is scaled to the frame as an
  edge field: per pixel the class drawn ``k1``, the class across the nearest edge ``k2`` and
  ``k1``'s share ``t`` (0..255) of an anti-aliased mix, from the bilinear one-hot vote of a
  class mask, or from the person probability (``confidence``, or the smoothed ``alpha``) for
  the ``person`` profile. Each mode below gives ``F(k)``, a pixel's colour as class ``k``;
  the output is ``(t * F(k1) + (255 - t) * F(k2) + 127) // 255``.
* Class ``k`` has colour ``palette[k % len(palette)]`` and is visible unless a non-empty class
  filter leaves it out. Hidden pixels keep the frame colour in every mode.
* ``a`` = opacity, ``v`` = frame colour, ``c`` = class colour, ``round(x) = floor(x + 0.5)``,
  float64 maths in the order written:

  - ``filled``: ``round(v * (1 - a) + c * a)`` on visible pixels.
  - ``contour``: ``filled``'s colour of ``k1`` mixed with the frame by the edge field's
    ``line`` coverage: an anti-aliased line about 2 px wide, each side in its own colour.
  - ``side-by-side``: ``[frame | c where visible, else frame]``, twice as wide.
  - ``blend``: ``V = max(v)`` (HSV value); ``t = c * V / max(c)`` (class hue and saturation at
    the frame's value; ``(V, V, V)`` for a black class colour); ``m = v * (1 - a) + t * a``;
    ``out = round(m * V / max(m))`` (0 when ``max(m) == 0``), so ``max(out) == V``.
  - ``blur``, ``replace`` and ``confidence``: the background effects and the heat map of the
    model's certainty, from the person alpha; see :mod:`segwidget.effects` (the class filter
    does not apply to them).
* ``mirror=True`` flips the frame and the mask (and confidence) left-right first: the selfie
  view, a display transform only.

Speed: ``filled``, ``contour`` and the right half of ``side-by-side`` are one gather from a
``(257, 3, 256)`` uint8 table holding the exact float64 result for every (class, channel,
frame value), cached per palette, filter and opacity, plus the edge field and the mix of
the edge pixels.
``blend`` gathers ``t * a`` from a cached (class, V) table and does the rest in float64
over the frame: about 10 ms at 640x480.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from numbers import Real

import cv2
import numpy as np

from .edges import edge_field
from .effects import (
    DEFAULT_BACKGROUND,
    EFFECT_MODES,
    compose_confidence,
    compose_effect,
    parse_background,
    person_alpha,
    person_index,
)
from .labels import resolve_palette

__all__ = [
    "VIZ_MODES",
    "colorize",
    "colorized_png",
    "composite",
    "encode_png",
    "render_overlay",
]

#: Every visualisation mode; ``js/src/renderer.js`` has the same list (tests/test_render.py
#: checks they agree).
VIZ_MODES: tuple[str, ...] = ("filled", "contour", "side-by-side", "blend", *EFFECT_MODES)

_N = 256  # possible uint8 class values
_KEEP = _N  # table row that keeps the frame value (hidden or non-boundary pixels)
_CHANNEL_OFFSETS = np.array([0, 256, 512], dtype=np.intp)

# ------------------------------------------------------------------- validation


def _check_mask(mask: np.ndarray) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"mask must be a 2-D uint8 array of class indices, got {_describe(mask)}")
    if mask.shape[0] == 0 or mask.shape[1] == 0:
        raise ValueError(f"mask must not be empty, got shape {mask.shape}")
    return mask


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if (
        not isinstance(frame, np.ndarray)
        or frame.ndim != 3
        or frame.shape[2] != 3
        or frame.dtype != np.uint8
    ):
        raise ValueError(f"frame must be an HxWx3 uint8 RGB array, got {_describe(frame)}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame must not be empty, got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def _check_opacity(opacity: float) -> float:
    if isinstance(opacity, (bool, np.bool_)) or not isinstance(opacity, Real):
        raise ValueError(f"opacity must be a number in 0..1, got {opacity!r}")
    value = float(opacity)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"opacity must be in 0..1, got {opacity!r}")
    return value


def _check_viz_mode(viz_mode: str) -> str:
    if viz_mode not in VIZ_MODES:
        raise ValueError(
            f"unknown viz_mode {viz_mode!r}; valid modes: {', '.join(repr(m) for m in VIZ_MODES)}"
        )
    return viz_mode


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return type(x).__name__


def _palette_bytes(palette: object) -> bytes:
    """The palette as ``(n, 3)`` uint8 bytes (hashable, for the table caches)."""
    try:
        arr = np.asarray(palette)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"palette must be a sequence of [r, g, b] colours: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise ValueError(f"palette must be a non-empty (n, 3) table of colours, got {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() > 255:
            raise ValueError("palette colours must be integers in 0..255")
        arr = arr.astype(np.uint8)
    return np.ascontiguousarray(arr).tobytes()


def _filter_key(class_filter_ids: Iterable[int] | None) -> tuple[int, ...] | None:
    """Sorted visible class ids, or None when every class is visible (None or empty)."""
    if class_filter_ids is None:
        return None
    if isinstance(class_filter_ids, (str, bytes)):
        raise ValueError("class_filter_ids must be class indices (integers), not a string")
    ids = []
    for value in np.asarray(list(class_filter_ids)).ravel().tolist():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"class_filter_ids must be non-negative integers, got {value!r}; "
                "map names to indices first (labels.validate_class_filter)"
            )
        ids.append(value)
    return tuple(sorted(set(ids))) or None


# ----------------------------------------------------------------------- tables


@lru_cache(maxsize=32)
def _lut(palette_key: bytes, filter_key: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb (256, 3) uint8, visible (256,) bool)`` for every uint8 class value."""
    base = np.frombuffer(palette_key, dtype=np.uint8).reshape(-1, 3)
    rgb = base[np.arange(_N) % len(base)].copy()
    visible = np.ones(_N, dtype=bool)
    if filter_key is not None:
        visible[:] = False
        visible[[k for k in filter_key if k < _N]] = True
    rgb[~visible] = 0
    rgb.setflags(write=False)
    visible.setflags(write=False)
    return rgb, visible


@lru_cache(maxsize=32)
def _mix_table(
    palette_key: bytes, filter_key: tuple[int, ...] | None, opacity: float
) -> np.ndarray:
    """Flat ``(257 * 3 * 256,)`` uint8 table: ``round(v * (1 - a) + c * a)`` per class row.

    Row ``k`` (0..255), channel ``ch``, frame value ``v`` holds the mixed value for visible
    classes and ``v`` for hidden ones; row 256 always holds ``v`` (keep the frame).
    """
    rgb, visible = _lut(palette_key, filter_key)
    a = opacity
    b = 1.0 - a
    v = np.arange(_N, dtype=np.float64)
    c = rgb.astype(np.float64)[:, :, None]  # (256, 3, 1)
    mixed = np.floor(v * b + c * a + 0.5)  # same operation order as renderer.js
    table = np.empty((_N + 1, 3, _N), dtype=np.uint8)
    table[:_N] = mixed.astype(np.uint8)
    table[:_N][~visible] = np.arange(_N, dtype=np.uint8)
    table[_KEEP] = np.arange(_N, dtype=np.uint8)
    table = table.reshape(-1)
    table.setflags(write=False)
    return table


def _apply_table(table: np.ndarray, rows: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``out[y, x, ch] = table[rows[y, x], ch, frame[y, x, ch]]``."""
    idx = rows.astype(np.intp)
    idx *= 3 * _N
    idx = idx[:, :, None] + _CHANNEL_OFFSETS
    idx += frame
    return np.take(table, idx)


# ----------------------------------------------------------------------- public


def colorize(
    mask: np.ndarray,
    palette: np.ndarray,
    class_filter_ids: Iterable[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour a class-index mask.

    Returns ``(rgb, alpha)``: ``rgb`` an HxWx3 uint8 image where class ``c`` is
    ``palette[c % len(palette)]``, and ``alpha`` an HxW bool array, False (and black in
    ``rgb``) for classes a non-empty ``class_filter_ids`` leaves out.
    """
    _check_mask(mask)
    rgb_lut, visible = _lut(_palette_bytes(palette), _filter_key(class_filter_ids))
    return np.take(rgb_lut, mask, axis=0), np.take(visible, mask)


def render_overlay(
    frame_rgb: np.ndarray,
    mask: np.ndarray,
    palette: np.ndarray,
    viz_mode: str = "filled",
    opacity: float = 0.6,
    class_filter_ids: Iterable[int] | None = None,
    *,
    confidence: np.ndarray | None = None,
    person: int | None = None,
    alpha: np.ndarray | None = None,
    background: object = DEFAULT_BACKGROUND,
    mirror: bool = False,
) -> np.ndarray:
    """Composite ``mask`` over ``frame_rgb`` in one of :data:`VIZ_MODES`, as the browser does.

    ``frame_rgb`` is HxWx3 uint8 RGB; ``mask`` a 2-D uint8 class-index mask at any (model)
    resolution, scaled to the frame size with smooth edges. Returns a new HxWx3 uint8 RGB
    image (Hx2Wx3 for ``side-by-side``). Pixels of classes a non-empty ``class_filter_ids``
    leaves out keep the frame colour in the four class modes. See the module docstring.

    The effect modes use the person alpha: ``confidence`` (uint8 person probability, the
    mask's shape) where given, else the ``person`` class index of ``mask``. ``alpha``, when
    given, is the (temporally smoothed) alpha ``blur`` and ``replace`` use instead (and,
    with a ``confidence``, the class modes draw the person profile's classes from it);
    ``background`` is ``replace``'s colour or image (see ``effects.parse_background``).
    ``mirror`` flips everything left-right first.
    """
    _check_viz_mode(viz_mode)
    frame = _check_frame(frame_rgb)
    _check_mask(mask)
    a = _check_opacity(opacity)
    if mirror:
        frame = np.ascontiguousarray(frame[:, ::-1])
        mask = np.ascontiguousarray(mask[:, ::-1])
        confidence = None if confidence is None else confidence[:, ::-1]
        alpha = None if alpha is None else alpha[:, ::-1]
    if viz_mode in EFFECT_MODES:
        raw = person_alpha(mask, confidence, person)
        if viz_mode == "confidence":
            return compose_confidence(frame, raw, a)
        if alpha is not None and alpha.shape != mask.shape:
            raise ValueError(f"alpha must have the mask's shape {mask.shape}, got {alpha.shape}")
        soft = raw if alpha is None else alpha
        return compose_effect(frame, soft, viz_mode, parse_background(background))
    pkey = _palette_bytes(palette)
    fkey = _filter_key(class_filter_ids)
    h, w = frame.shape[:2]
    soft = None if confidence is None else (confidence if alpha is None else alpha)
    field = edge_field(mask, soft, h, w)
    edge = field.t < 255  # pixels that mix k1 with k2

    if viz_mode == "contour":
        ln = field.line > 0
        out = frame.copy()
        lit = _apply_table(_mix_table(pkey, fkey, a), field.k1[ln][None], frame[ln][None])[0]
        out[ln] = _mix(lit, frame[ln], field.line[ln])
        return out
    if viz_mode == "side-by-side":
        out = np.empty((h, 2 * w, 3), dtype=np.uint8)
        out[:, :w] = frame
        out[:, w:] = _classes_over(frame, field, edge, _mix_table(pkey, fkey, 1.0))
        return out
    if viz_mode == "filled":
        return _classes_over(frame, field, edge, _mix_table(pkey, fkey, a))
    out = _blend(frame, field.k1, pkey, fkey, a)
    f2 = _blend(frame[edge][None], field.k2[edge][None], pkey, fkey, a)[0]
    out[edge] = _mix(out[edge], f2, field.t[edge])
    return out


def _mix(f1: np.ndarray, f2: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``round(f1 * t / 255 + f2 * (1 - t / 255))`` in integers (``js/src/edges.js``)."""
    t = t.astype(np.int32)[..., None]
    return ((f1.astype(np.int32) * t + f2.astype(np.int32) * (255 - t) + 127) // 255).astype(
        np.uint8
    )


def _classes_over(frame: np.ndarray, field, edge: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The table's composite of ``k1``, mixed with ``k2``'s at the anti-aliased edge."""
    out = _apply_table(table, field.k1, frame)
    f2 = _apply_table(table, field.k2[edge][None], frame[edge][None])[0]
    out[edge] = _mix(out[edge], f2, field.t[edge])
    return out


def composite(
    frame: np.ndarray,
    mask: np.ndarray,
    labels: list[str],
    *,
    viz_mode: str = "filled",
    opacity: float = 0.6,
    colormap: str = "voc",
    custom_palette: list | None = None,
    class_filter: Iterable[str] = (),
    **effects: object,
) -> np.ndarray:
    """:func:`render_overlay` with the widget's settings: a colormap name (and custom
    palette), class names to show, and the effects' ``confidence``, ``alpha``,
    ``background`` and ``mirror``; the person class is found in ``labels``."""
    palette = resolve_palette(colormap, len(labels), custom_palette or None)
    ids = None
    wanted = set(class_filter)
    if wanted:
        # Names this label set lacks hide nothing extra; a filter matching none hides all,
        # as the view does (class 255 never occurs in masks of <= 150 classes).
        ids = [i for i, n in enumerate(labels) if n in wanted] or [255]
    return render_overlay(
        frame, mask, palette, viz_mode, opacity, ids, person=person_index(labels), **effects
    )  # type: ignore[arg-type]


def _boundary(up: np.ndarray) -> np.ndarray:
    """True where a 4-neighbour inside the image has another class."""
    out = np.zeros(up.shape, dtype=bool)
    dx = up[:, 1:] != up[:, :-1]
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    dy = up[1:] != up[:-1]
    out[1:] |= dy
    out[:-1] |= dy
    return out


def _blend(
    frame: np.ndarray,
    up: np.ndarray,
    pkey: bytes,
    fkey: tuple[int, ...] | None,
    a: float,
) -> np.ndarray:
    _, visible = _lut(pkey, fkey)
    target = _blend_table(pkey, fkey, a)
    value = np.maximum(np.maximum(frame[..., 0], frame[..., 1]), frame[..., 2])  # HSV V
    rows = up.astype(np.intp)
    rows *= _N
    rows += value
    m = np.take(_frame_weight(a), frame)  # v * (1 - a)
    m += np.take(target, rows, axis=0)  # + t * a
    big_m = np.maximum(np.maximum(m[..., 0], m[..., 1]), m[..., 2])
    m *= value[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        m /= big_m[..., None]
    m += 0.5
    np.floor(m, out=m)
    m[big_m <= 0] = 0.0
    out = m.astype(np.uint8)
    return np.where(np.take(visible, up)[..., None], out, frame)


@lru_cache(maxsize=32)
def _frame_weight(a: float) -> np.ndarray:
    """``v * (1 - a)`` for every frame value ``v``."""
    table = np.arange(_N, dtype=np.float64) * (1.0 - a)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=32)
def _blend_table(pkey: bytes, fkey: tuple[int, ...] | None, a: float) -> np.ndarray:
    """``(256 * 256, 3)`` float64: row ``k * 256 + V`` holds ``t * a`` for class ``k``.

    ``t = c * V / max(c)``, or ``(V, V, V)`` for a black class colour, evaluated in the
    order ``renderer.js`` uses so the result is bit-identical.
    """
    rgb_lut, _ = _lut(pkey, fkey)
    c = rgb_lut.astype(np.float64)[:, None, :]  # (256, 1, 3)
    cmax = c.max(axis=2, keepdims=True)  # (256, 1, 1)
    value = np.arange(_N, dtype=np.float64)[None, :, None]  # (1, 256, 1)
    lit = cmax > 0
    t = np.where(lit, (c * value) / np.where(lit, cmax, 1.0), value)  # (256, 256, 3)
    table = (t * a).reshape(_N * _N, 3)
    table.setflags(write=False)
    return table


def encode_png(image: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes of an RGB (HxWx3), RGBA (HxWx4) or grey (HxW) uint8 image.

    OpenCV, fast compression level 1 by default (0..9).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 array, got {_describe(image)}")
    if image.ndim == 3 and image.shape[2] == 3:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 2:
        bgr = image
    else:
        raise ValueError(f"image must be HxW, HxWx3 or HxWx4, got shape {image.shape}")
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input, checked above
        raise RuntimeError("OpenCV could not encode the PNG")
    return buf.tobytes()


def colorized_png(
    mask: np.ndarray,
    palette: np.ndarray,
    class_filter_ids: Iterable[int] | None = None,
    *,
    alpha: bool = True,
) -> bytes:
    """The colourised mask as PNG bytes (the spec's compatibility ``segmentation`` payload).

    RGBA by default: opaque class colours, fully transparent where the class filter hides a
    class, so a client can draw it over the video with its own opacity. ``alpha=False``
    gives RGB with hidden classes black.
    """
    rgb, visible = colorize(mask, palette, class_filter_ids)
    if not alpha:
        return encode_png(rgb)
    rgba = np.empty((*mask.shape, 4), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = visible * np.uint8(255)
    return encode_png(rgba)
