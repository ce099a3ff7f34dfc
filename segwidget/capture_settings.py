"""The settings of the browser's capture loop and drawing, a traits mixin of :class:`SegWidget`.

The defaults are what measured best (``docs/PERFORMANCE.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from .adapt import DEFAULT_BUDGET_MS, check_budget

UPLOAD_SIZES = ("model", "full")
FRAME_ENCODINGS = ("auto", "jpeg", "i420")
RENDERERS = ("auto", "overlay", "canvas", "webgl")
DISPLAYS = ("auto", "aligned", "live")
#: The largest fixed window ``max_in_flight`` accepts ("auto" may go up to 12: js/src/window.js).
MAX_IN_FLIGHT = 8


class CaptureSettings(t.HasTraits):
    """How the browser captures, sends and draws frames (synced traits of :class:`SegWidget`).

    - ``resolution`` ([width, height], default [640, 480]): what the camera is asked for.
    - ``jpeg_quality`` (1..100, default 80).
    - ``max_in_flight`` (``"auto"``, the default, or 1 to 8): frames sent and not yet
      answered. "auto" sizes the window to the link: about its round trip times the camera's
      rate, plus one (two on loopback, about seven across 200 ms), smaller while the
      kernel's own time grows or the uplink queues. A number fixes it: two overlap the next
      frame's capture and upload with the current inference; one never queues.
    - ``display`` (``"auto"``, ``"aligned"`` or ``"live"``): "aligned" draws each result
      over the frame it was computed from (the picture is as late as the result, and the
      mask sits on it); "live" draws the newest mask over the live camera video (on a long
      round trip the mask trails anything that moves); "auto" is aligned while the
      capture-to-render latency is above about two camera frames (a remote kernel) and live
      below (loopback). ``stats["display"]`` says which the view drew last.
    - ``upload_size`` (``"model"`` or ``"full"``, default ``"model"``): the browser
      downscales each frame to the profile's input size before JPEG-encoding it ("model"),
      or sends it at the camera's resolution for the kernel to downscale ("full": more
      bytes and more encode and decode time, the same mask).
    - ``frame_encoding`` (``"auto"``, ``"jpeg"`` or ``"i420"``): "auto" sends raw I420
      pixels, and gets the mask back raw, when the page comes from this machine (localhost:
      no encode, no decode), and JPEG with a deflated mask otherwise (a remote link). Set
      "jpeg" behind an SSH tunnel to a remote kernel.
    - ``adapt`` (default True) and ``latency_budget_ms`` (default 200): when the p95
      capture-to-render latency exceeds the budget, the model's input size and then the
      frame rate step down, and back up when there is room; ``stats["adapted"]`` says
      e.g. ``"256x192"`` while it is below full quality.
    - ``renderer`` (``"auto"``, ``"overlay"``, ``"canvas"`` or ``"webgl"``): how the view
      draws. "auto" shows the camera's ``<video>`` under an overlay canvas drawn once per
      result for ``filled``, ``contour`` and ``confidence`` ("overlay"), uses WebGL for the
      other class modes only on a hardware GPU, and a 2D canvas drawn every video frame
      otherwise ("canvas", also what blur, replace and kernel sources use). The path taken
      and why are in the stats overlay and the stage's ``data-renderer`` attributes.
    """

    resolution = t.List([640, 480]).tag(sync=True)
    jpeg_quality = t.Int(80).tag(sync=True)
    max_in_flight = t.Union([t.Unicode(), t.Int()], default_value="auto").tag(sync=True)
    display = t.Enum(DISPLAYS, default_value="auto").tag(sync=True)
    upload_size = t.Enum(UPLOAD_SIZES, default_value="model").tag(sync=True)
    frame_encoding = t.Enum(FRAME_ENCODINGS, default_value="auto").tag(sync=True)
    adapt = t.Bool(True).tag(sync=True)
    latency_budget_ms = t.Float(DEFAULT_BUDGET_MS).tag(sync=True)
    renderer = t.Enum(RENDERERS, default_value="auto").tag(sync=True)

    @t.validate("jpeg_quality")
    def _check_quality(self, proposal: Any) -> int:
        if not 1 <= proposal["value"] <= 100:
            raise t.TraitError(f"jpeg_quality must be from 1 to 100, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("max_in_flight")
    def _check_in_flight(self, proposal: Any) -> int:
        value = proposal["value"]
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            value = None
        if value is None or not 1 <= value <= MAX_IN_FLIGHT:
            raise t.TraitError(
                f"max_in_flight must be 'auto' or 1 to {MAX_IN_FLIGHT}, got {value!r}"
            )
        return int(value)

    @t.validate("latency_budget_ms")
    def _check_budget(self, proposal: Any) -> float:
        try:
            return check_budget(proposal["value"])
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None

    @t.validate("resolution")
    def _check_resolution(self, proposal: Any) -> list[int]:
        value = list(proposal["value"])
        ok = len(value) == 2 and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and 16 <= v <= 4096
            for v in value
        )
        if not ok:
            raise t.TraitError(f"resolution must be [width, height] in 16..4096, got {value!r}")
        return [int(v) for v in value]
