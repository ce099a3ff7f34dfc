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

from typing import Any

import numpy as np
import traitlets as t

from .effects import (
    DEFAULT_BACKGROUND,
    check_smoothing,
    decode_background,
    encode_background,
    parse_background,
)


class Background(t.TraitType):
    """``replace``'s background: ``"#rrggbb"`` or an HxWx3 uint8 RGB image (read-only array).

    Takes a colour (``"#0f0"``, ``"#00ff00"``, ``(r, g, b)``), an RGB array or an image path
    (loaded at once). The view gets ``{"color": ...}`` or the image as one JPEG buffer, sent
    when the setting changes, never per frame.
    """

    default_value = DEFAULT_BACKGROUND
    info_text = "a colour '#rrggbb' or (r, g, b), an HxWx3 uint8 image, or an image path"

    def validate(self, obj: Any, value: Any) -> str | np.ndarray:
        try:
            return parse_background(value)
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None


def background_to_json(value: str | np.ndarray, _widget: Any) -> dict[str, Any]:
    return encode_background(value)


def background_from_json(value: Any, _widget: Any) -> str | np.ndarray:
    """The view's picker: ``{"color": "#rrggbb"}`` or ``{"image": <bytes>, "mime": ...}``."""
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
