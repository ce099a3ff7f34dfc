"""What both transports share, and the widget's comm adapter.

* :mod:`segwidget.transports.comm`: the Jupyter comm channel of :class:`segwidget.SegWidget`
  (a thin adapter between the view and its :class:`~segwidget.stream.Session`);
* :mod:`segwidget.transports.messages`: the client messages of the WebSocket, validated;
* :mod:`segwidget.transports.security`: token, Origin and Host checks, the rate limiter.

The WebSocket page itself is :mod:`segwidget.server`. Both speak the messages of
``docs/API_REFERENCE.md``; the helpers here build the ones that do not depend on the
transport.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ..labels import PALETTES
from ..profiles import PROFILES

if TYPE_CHECKING:
    from ..engine import Engine

_ready: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def palettes_message() -> dict[str, list[list[int]]]:
    """The named palettes as JSON lists (the ``palettes`` field of ``ready``)."""
    return {name: palette.tolist() for name, palette in PALETTES.items()}


def ready_message(engine: Engine) -> dict[str, Any]:
    """The ``ready`` message for a loaded engine: labels, palettes, input size and info.

    Built once per engine (the palettes make it a few KB); treat the result as read-only.
    """
    msg = _ready.get(engine)
    if msg is None:
        msg = _ready[engine] = {
            "type": "ready",
            "profile": engine.profile.name,
            "profiles": list(PROFILES),
            "input_size": engine.input_size,
            "labels": list(engine.labels),
            "palettes": palettes_message(),
            "default_colormap": engine.profile.default_colormap,
            "info": dict(engine.info),
        }
    return msg


def loading_message(profile: str) -> dict[str, Any]:
    """The ``loading`` message: a profile switch started; the previous profile keeps serving."""
    return {"type": "loading", "profile": profile}


__all__ = ["loading_message", "palettes_message", "ready_message"]
