"""Trait types of :class:`segwidget.SegWidget`'s effect settings, with their wire forms.

- ``background``: replace's colour (``"#00ff00"``, ``(r, g, b)``), an HxWx3 uint8 RGB image
  or an image path (:class:`Background`);
- ``smoothing`` (0..1, default 0.5): the person alpha's moving average over results, so
  edges do not flicker (:class:`Smoothing`);
- ``mirror``: None (auto, the default: the view mirrors a browser camera that reports it
  faces the user), True or False. A display transform only: ``latest().frame`` and
  ``.mask`` stay as the camera sees them; ``overlay()`` and snapshots mirror when True.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import cv2
import numpy as np
import traitlets as t

from .effects import (
    DEFAULT_BACKGROUND,
    check_smoothing,
    decode_background,
    parse_background,
)

#: Largest JPEG of a background image in the widget's state (base64 adds a third): far below
#: the ~1 MB that Colab's widget manager carries in one message.
MAX_BACKGROUND_JPEG = 256 * 1024


class Background(t.TraitType):
    """``replace``'s background: ``"#rrggbb"`` or an HxWx3 uint8 RGB image (read-only array).

    Takes a colour (``"#0f0"``, ``"#00ff00"``, ``(r, g, b)``), an RGB array or an image path
    (loaded at once). The view gets ``{"color": ...}`` or the image as a base64 JPEG of at
    most :data:`MAX_BACKGROUND_JPEG` bytes, sent when the setting changes, never per frame.
    """

    default_value = DEFAULT_BACKGROUND
    info_text = "a colour '#rrggbb' or (r, g, b), an HxWx3 uint8 image, or an image path"

    def validate(self, obj: Any, value: Any) -> str | np.ndarray:
        try:
            return parse_background(value)
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None


def background_jpeg(image: np.ndarray, limit: int = MAX_BACKGROUND_JPEG) -> bytes:
    """``image`` (RGB) as a JPEG of at most ``limit`` bytes: quality first, then the size."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    while True:
        for quality in (90, 80, 70):
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:  # pragma: no cover - a checked uint8 image always encodes
                raise RuntimeError("OpenCV could not encode the background image")
            if buf.nbytes <= limit or max(bgr.shape[:2]) <= 16:
                return buf.tobytes()
        h, w = bgr.shape[:2]
        size = (max(1, round(w * 0.7)), max(1, round(h * 0.7)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)


def background_to_json(value: str | np.ndarray, _widget: Any) -> dict[str, Any]:
    """``{"color": "#rrggbb"}``, or the image as base64 JPEG text: no binary buffer, since
    Colab's widget manager drops the buffers of a widget's initial state (its issue #33)."""
    if isinstance(value, str):
        return {"color": value}
    h, w = value.shape[:2]
    data = base64.b64encode(background_jpeg(value)).decode("ascii")
    return {"image": data, "encoding": "base64", "mime": "image/jpeg", "width": w, "height": h}


def background_from_json(value: Any, _widget: Any) -> str | np.ndarray:
    """The view's picker: ``{"color": "#rrggbb"}`` or ``{"image": <bytes or base64>, ...}``."""
    if isinstance(value, dict) and isinstance(value.get("image"), str):
        try:
            data = base64.b64decode(value["image"], validate=True)
        except (binascii.Error, ValueError):
            raise t.TraitError("background: the image from the view is not base64") from None
        return decode_background(data)
    if isinstance(value, dict) and value.get("image") is not None:
        return decode_background(value["image"])
    if isinstance(value, dict) and isinstance(value.get("color"), str):
        return value["color"]
    return value  # validated (and refused with a clear error) by the trait


BACKGROUND_SERIALIZERS = {"to_json": background_to_json, "from_json": background_from_json}


class Smoothing(t.Float):
    """Temporal smoothing of the person alpha, 0 (off) .. 1."""

    def validate(self, obj: Any, value: Any) -> float:
        try:
            return check_smoothing(value)
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None
