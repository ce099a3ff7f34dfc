"""Background effects and the confidence view in numpy / OpenCV (``js/src/effects.js`` in the
browser): ``blur``, ``replace`` and ``confidence``, the person alpha they start from, its
temporal smoothing, the ``mirror`` display transform and the ``background`` setting.

The person alpha is the model's person probability (``SegResult.confidence``, uint8 0..255
at model resolution) where the profile gives one, else 255 on the profile's ``person`` class
and 0 elsewhere. For ``blur`` and ``replace`` it is smoothed over time
(:class:`ConfidenceSmoother`), then scaled to the frame by :func:`segwidget.edges.alpha_at`
(bilinear with a smoothstep ramp around 0.5, or the class vote: no glow of the old background
around the person, no ghost of it through half-confident areas), then
``out = frame * a + background * (1 - a)`` rounded half up, with ``a`` in 0..1.
``blur``'s background is the frame under a Gaussian of ``BLUR_SIGMA`` times the long side;
the browser draws the same with canvas filters on the GPU, so the two agree to within a few
levels, not bit for bit.

The ``confidence`` view colours each pixel by the raw (unsmoothed) alpha through
:func:`heat_lut` (blue: surely background, green: unsure, red: surely person), scaled
bilinearly (:func:`segwidget.edges.heat_level`) and mixed with the frame at the opacity as
``filled`` does; that one is bit-exact with the browser.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np

from .edges import alpha_at, class_alpha, heat_level

__all__ = [
    "BLUR_SIGMA",
    "DEFAULT_BACKGROUND",
    "DEFAULT_SMOOTHING",
    "EFFECT_MODES",
    "ClassSteadier",
    "ConfidenceSmoother",
    "ViewSmoothing",
    "compose_confidence",
    "compose_effect",
    "heat_lut",
    "parse_background",
    "person_alpha",
    "person_index",
]

#: Modes that need the person alpha (and ask the server for ``confidence``).
EFFECT_MODES = ("blur", "replace", "confidence")
#: Background blur: Gaussian sigma as a fraction of the frame's long side (12.8 px at 640).
BLUR_SIGMA = 0.02
#: Weight of the previous smoothed alpha at ``smoothing=1`` (``k = HOLD_MAX * smoothing``).
HOLD_MAX = 0.9
DEFAULT_SMOOTHING = 0.5
DEFAULT_BACKGROUND = "#00ff00"
#: Largest background image side sent to the view (bigger ones are downscaled once).
MAX_BACKGROUND_SIDE = 1920
_HEAT_STOPS = (
    (0, (0, 0, 255)),
    (64, (0, 255, 255)),
    (128, (0, 255, 0)),
    (192, (255, 255, 0)),
    (255, (255, 0, 0)),
)


def person_index(labels: list[str] | tuple[str, ...]) -> int | None:
    """Index of the ``person`` class in a profile's labels (VOC 15, ADE20K 12), or None."""
    return list(labels).index("person") if "person" in labels else None


def person_alpha(mask: np.ndarray, confidence: np.ndarray | None, person: int | None) -> np.ndarray:
    """The person alpha at model resolution (uint8): ``confidence``, else the person class
    feathered over 3x3 (:func:`segwidget.edges.class_alpha`), so its bilinear 0.5 line is the
    class vote's boundary."""
    if confidence is not None:
        if confidence.shape != mask.shape or confidence.dtype != np.uint8:
            raise ValueError(
                f"confidence must be uint8 of the mask's shape {mask.shape}, got "
                f"{confidence.dtype} {confidence.shape}"
            )
        return confidence
    if person is None:
        return np.zeros(mask.shape, np.uint8)
    return class_alpha(mask, person)


def check_smoothing(value: object) -> float:
    """``value`` as a float in 0..1, or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"smoothing must be a number in 0..1, got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"smoothing must be in 0..1, got {value!r}")
    return v


class ConfidenceSmoother:
    """Exponential moving average of the person alpha over results, so edges do not flicker.

    ``s = k * s_prev + (1 - k) * alpha`` with ``k = HOLD_MAX * smoothing`` (0: off); starts
    over when the alpha's shape changes (another profile or frame size).
    """

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING):
        self.smoothing = check_smoothing(smoothing)
        self._state: np.ndarray | None = None

    def update(self, alpha: np.ndarray) -> np.ndarray:
        """Fold in one result's alpha (uint8); return the smoothed alpha (uint8)."""
        k = HOLD_MAX * self.smoothing
        a = alpha.astype(np.float32)
        if self._state is None or self._state.shape != a.shape or k == 0.0:
            self._state = a
        else:
            self._state = self._state * np.float32(k) + a * np.float32(1.0 - k)
        return np.floor(self._state + 0.5).astype(np.uint8)

    def reset(self) -> None:
        self._state = None


class ClassSteadier:
    """Steadies a class mask over results (``js/src/effects.js`` ``ClassSteadier``): a pixel
    takes a new class only when two consecutive results agree on it, so camera noise does not
    make classes flicker (one result of lag on a real change); the raw mask at smoothing 0."""

    def __init__(self) -> None:
        self._shown: np.ndarray | None = None
        self._last: np.ndarray | None = None

    def update(self, mask: np.ndarray, smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
        """Fold in one result's class mask (uint8); return the mask to show."""
        shown, last = self._shown, self._last
        self._last = mask
        if check_smoothing(smoothing) == 0 or shown is None or shown.shape != mask.shape:
            self._shown = mask
            return mask
        assert last is not None
        self._shown = np.where((mask == shown) | (mask == last), mask, shown)
        return self._shown

    def reset(self) -> None:
        self._shown = self._last = None


class ViewSmoothing:
    """What the view smooths over results (``js/src/view-effects.js`` ``onResult``), so
    ``Result.overlay()``, snapshots and recordings draw what the view draws: a profile with a
    confidence (``person``) has it smoothed in every mode (the class modes draw its two classes
    from it); another profile's class mask is steadied (:class:`ClassSteadier`), and its
    person alpha smoothed while an effect mode is on."""

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING):
        self.alpha = ConfidenceSmoother(smoothing)
        self.classes = ClassSteadier()

    def for_result(
        self, seg: object, viz_mode: str, smoothing: float
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(alpha, shown)`` of a ``SegResult``: the smoothed person alpha (None while no
        view of this profile uses one) and the steadied class mask (None: the raw one)."""
        self.alpha.smoothing = check_smoothing(smoothing)
        mask, labels = seg.mask, seg.labels  # type: ignore[attr-defined]
        confidence = getattr(seg, "confidence", None)
        if confidence is not None and confidence.shape == mask.shape:
            self.classes.reset()
            return self.alpha.update(person_alpha(mask, confidence, None)), None
        shown = self.classes.update(mask, smoothing)
        if viz_mode not in EFFECT_MODES:
            self.alpha.reset()
            return None, shown
        return self.alpha.update(person_alpha(mask, None, person_index(labels))), shown


def heat_lut() -> np.ndarray:
    """``(256, 3)`` uint8 heat colours: piecewise linear through the stops, rounded half up."""
    out = np.zeros((256, 3), np.uint8)
    for (v0, c0), (v1, c1) in itertools.pairwise(_HEAT_STOPS):
        v = np.arange(v0, v1 + 1, dtype=np.float64)[:, None]
        t = (v - v0) / (v1 - v0)
        c0a, c1a = np.array(c0, np.float64), np.array(c1, np.float64)
        out[v0 : v1 + 1] = np.floor(c0a + (c1a - c0a) * t + 0.5).astype(np.uint8)
    return out


_HEAT = heat_lut()


def compose_confidence(frame: np.ndarray, alpha: np.ndarray, opacity: float) -> np.ndarray:
    """The ``confidence`` view: ``alpha``'s heat colour mixed with the frame as ``filled`` does."""
    h, w = frame.shape[:2]
    heat = np.take(_HEAT, heat_level(alpha, h, w), axis=0).astype(np.float64)
    v = frame.astype(np.float64)
    return np.floor(v * (1.0 - opacity) + heat * opacity + 0.5).astype(np.uint8)


def compose_effect(
    frame: np.ndarray, alpha: np.ndarray, mode: str, background: str | np.ndarray
) -> np.ndarray:
    """``blur`` or ``replace``: the person (``alpha``, uint8 at mask resolution, scaled by
    :func:`segwidget.edges.alpha_at`) over a blurred or replaced background."""
    h, w = frame.shape[:2]
    if mode == "blur":
        bg = blurred(frame).astype(np.float32)
    elif mode == "replace":
        bg = _background_image(background, h, w)
    else:
        raise ValueError(f"compose_effect: mode must be 'blur' or 'replace', got {mode!r}")
    a = (alpha_at(alpha, h, w).astype(np.float32) * np.float32(1 / 255))[..., None]
    out = frame.astype(np.float32) * a + bg * (np.float32(1.0) - a)
    return np.floor(out + np.float32(0.5)).astype(np.uint8)


def blurred(frame: np.ndarray) -> np.ndarray:
    """``frame`` under a Gaussian of ``BLUR_SIGMA`` x its long side (computed at 1/4 size)."""
    h, w = frame.shape[:2]
    sigma = BLUR_SIGMA * max(h, w)
    f = 4 if min(h, w) >= 64 else 1  # a wide blur loses nothing at a quarter of the size
    small = cv2.resize(frame, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _background_image(background: str | np.ndarray, h: int, w: int) -> np.ndarray:
    """The background at ``h x w`` as float32: a flat colour, or the image scaled to cover."""
    if isinstance(background, str):
        rgb = _hex_rgb(background)
        return np.broadcast_to(np.array(rgb, np.float32), (h, w, 3))
    return cover(background, h, w).astype(np.float32)


def cover(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """``image`` scaled to cover ``h x w`` (aspect kept) and centre-cropped, as CSS ``cover``."""
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (sw, sh), interpolation=interp)
    y0, x0 = (sh - h) // 2, (sw - w) // 2
    return scaled[y0 : y0 + h, x0 : x0 + w]


# ----------------------------------------------------------------------- background


def _hex_rgb(color: str) -> tuple[int, int, int]:
    s = color[1:]
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)


_HEX = set("0123456789abcdefABCDEF")
_BACKGROUND_HELP = (
    "background must be a colour ('#00ff00' or (r, g, b) with 0..255), an HxWx3 uint8 RGB "
    "image, or the path of an image file"
)


def parse_background(value: object) -> str | np.ndarray:
    """Normalise a ``background`` setting: ``"#rrggbb"``, or an HxWx3 uint8 RGB image.

    Accepts ``"#rgb"`` / ``"#rrggbb"``, ``(r, g, b)`` with 0..255 integers, an HxWx3 uint8
    RGB array (HxWx4: alpha dropped), or an image file path (``str`` or ``os.PathLike``).
    Raises ValueError saying what is wrong.
    """
    if isinstance(value, np.ndarray):
        return _check_image(value)
    if isinstance(value, str) and value.startswith("#"):
        s = value[1:]
        if len(s) == 3 and set(s) <= _HEX:
            s = "".join(ch * 2 for ch in s)
        if len(s) != 6 or not set(s) <= _HEX:
            raise ValueError(f"{_BACKGROUND_HELP}; {value!r} is not a '#rrggbb' colour")
        return "#" + s.lower()
    if isinstance(value, tuple | list):
        ok = len(value) == 3 and all(
            isinstance(c, int | np.integer) and not isinstance(c, bool) and 0 <= c <= 255
            for c in value
        )
        if not ok:
            raise ValueError(f"{_BACKGROUND_HELP}; got {value!r}")
        return "#" + "".join(f"{int(c):02x}" for c in value)
    if isinstance(value, str | os.PathLike):
        return load_background(Path(value))
    raise ValueError(f"{_BACKGROUND_HELP}; got {type(value).__name__}")


def load_background(path: Path) -> np.ndarray:
    """An image file as an RGB array for ``background`` (ValueError when it is not one)."""
    if not path.is_file():
        raise ValueError(f"{_BACKGROUND_HELP}; {str(path)!r} is not a colour or an existing file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"background: {str(path)!r} is not an image OpenCV can read")
    return _check_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def decode_background(data: bytes) -> np.ndarray:
    """An encoded image (PNG, JPEG, ... from the view's picker) as an RGB array."""
    bgr = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("background: the image from the view could not be decoded")
    return _check_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _check_image(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{_BACKGROUND_HELP}; got an array of {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 1:
        raise ValueError(f"background image must not be empty, got shape {image.shape}")
    image = np.ascontiguousarray(image[..., :3])
    side = max(image.shape[:2])
    if side > MAX_BACKGROUND_SIDE:
        s = MAX_BACKGROUND_SIDE / side
        size = (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    image.setflags(write=False)
    return image
