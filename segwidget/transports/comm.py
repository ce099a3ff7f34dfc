"""The Jupyter comm transport of :class:`segwidget.SegWidget` (design decisions 1, 5, 6).

Incoming custom messages (``frame``, ``hello``, ``client_error``) arrive on the kernel's
shell thread; :meth:`CommTransport.handle` only parses them and, for a frame, calls
:meth:`Session.submit` (which keeps the newest frame). The shared scheduler's worker thread
segments it and calls this transport's :class:`~segwidget.stream.Sink` methods, which send
``result`` / ``error`` / ``stats`` / ``ready`` / ``loading`` with ``widget.send(content,
buffers)`` from that thread (safe with ipykernel >= 7.1) and hand the outcome to the widget.

The transport sees the widget only through :class:`WidgetHooks`, which the widget hands it:
neither module imports the other's internals.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

import cv2
import numpy as np

from ..engine import Engine, SegResult
from ..errors import FrameError, ProtocolError
from ..framing import attach_pixels
from ..preprocess import encode_jpeg
from ..stream import Frame, Session, error_message, result_message
from . import loading_message, ready_message

log = logging.getLogger(__name__)

MESSAGE_TYPES = ("frame", "hello", "client_error", "options")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:  # an int beyond a float's range (JSON allows any) overflows: found by fuzzing
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _numbers(value: Any, field: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError("BAD_MESSAGE", f"frame field {field!r} must be an object")
    out = {}
    for k, v in value.items():
        n = _number(v)
        if n is not None:
            out[str(k)] = n
    return out


def frame_from_message(content: dict[str, Any], buffers: list[Any] | None) -> Frame:
    """A ``frame`` message (header + JPEG in buffer 0) -> :class:`Frame`; ProtocolError if bad."""
    seq = content.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ProtocolError("BAD_MESSAGE", "frame 'seq' must be a non-negative integer")
    t_capture = content.get("t_capture")
    if t_capture is not None and _number(t_capture) is None:
        raise ProtocolError("BAD_MESSAGE", "frame 't_capture' must be a number")
    if not buffers or not isinstance(buffers[0], bytes | bytearray | memoryview):
        raise ProtocolError("BAD_FRAME", "frame message carries no image buffer")
    feedback = content.get("feedback")
    frame = Frame(
        seq=seq,
        t_capture=_number(t_capture),
        client=_numbers(content.get("client"), "client"),
        feedback=_numbers(feedback, "feedback") or None if feedback is not None else None,
    )
    return attach_pixels(frame, content, bytes(buffers[0]))


def display_jpeg(
    rgb: np.ndarray, max_wh: tuple[int, int] | None, quality: int
) -> tuple[bytes, int, int]:
    """A kernel-side frame as the JPEG the view shows, shrunk to fit ``max_wh`` if larger.

    Returns ``(jpeg, width, height)``.
    """
    if max_wh:
        h, w = rgb.shape[:2]
        scale = min(max_wh[0] / w, max_wh[1] / h)
        if scale < 1:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return encode_jpeg(rgb, quality), rgb.shape[1], rgb.shape[0]


class WidgetHooks(Protocol):
    """What :class:`CommTransport` needs from the widget it serves."""

    def send(self, content: dict[str, Any], buffers: list[bytes] | None) -> None:
        """Send one custom message to the view."""

    def kernel_source(self) -> bool:
        """Whether the kernel reads the frames (browser frames are then ignored)."""

    def display_limits(self) -> tuple[tuple[int, int], int]:
        """``((width, height), jpeg_quality)`` for kernel-side frames shown in the view."""

    def show_error(self, msg: dict[str, Any], client: bool = False) -> None:
        """Show an ``error`` message (from the kernel, or reported by the view)."""

    def clear_client_error(self) -> None:
        """The view reports its own error is gone."""

    # The Sink's outcomes, once sent to the view: the widget updates its traits and results.
    def deliver_result(self, frame: Frame, result: SegResult) -> None: ...

    def deliver_error(self, frame: Frame | None, msg: dict[str, Any]) -> None: ...

    def deliver_stats(self, stats: dict[str, Any]) -> None: ...

    def deliver_ready(self, engine: Engine) -> None: ...


class CommTransport:
    """Adapter between the widget's comm channel and its :class:`Session` (it is the Sink)."""

    def __init__(self, widget: WidgetHooks):
        self.widget = widget
        self.session: Session | None = None
        self.loading: str | None = None  # profile being loaded, if any
        self.messages_in = 0
        self.messages_out = 0

    # -- outgoing -------------------------------------------------------------------------
    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """Send one message; a failure is logged, never raised into the worker."""
        try:
            self.widget.send(content, buffers or None)
            self.messages_out += 1
        except Exception:
            log.exception("sending a %r message failed", content.get("type"))

    def report(self, error: Exception, seq: int | None = None, client: bool = False) -> None:
        """Send an ``error`` message and show it in the widget's ``error`` trait."""
        msg = error_message(error, seq)
        self.send(msg)
        self.widget.show_error(msg, client=client)

    # -- incoming (shell thread) ----------------------------------------------------------
    def handle(self, content: Any, buffers: list[Any] | None = None) -> None:
        """Dispatch one custom message from the view. Never raises."""
        self.messages_in += 1
        seq = None
        try:
            if not isinstance(content, dict) or not isinstance(content.get("type"), str):
                raise ProtocolError("BAD_MESSAGE", "message must be an object with a string 'type'")
            kind = content["type"]
            if kind == "frame":
                seq = content.get("seq") if isinstance(content.get("seq"), int) else None
                self._on_frame(content, buffers)
            elif kind == "hello":
                self._on_hello()
            elif kind == "client_error":
                self._on_client_error(content)
            elif kind == "options":
                if self.session is not None:
                    self.session.apply_options(content)
            else:
                raise ProtocolError(
                    "UNKNOWN_TYPE",
                    f"unknown message type {kind!r}; the widget handles {', '.join(MESSAGE_TYPES)}",
                )
        except Exception as exc:
            if not isinstance(exc, ProtocolError | FrameError):
                log.exception("handling a widget message failed")
            self.report(exc, seq)

    def _on_frame(self, content: dict[str, Any], buffers: list[Any] | None) -> None:
        frame = frame_from_message(content, buffers)
        if self.widget.kernel_source():
            log.debug("ignoring browser frame %s: the kernel reads the frames", frame.seq)
            return
        if self.session is not None:
            self.session.submit(frame)

    def _on_hello(self) -> None:
        session = self.session
        if session is not None and session.engine is not None:
            self.send(ready_message(session.engine))
        if self.loading is not None:
            self.send(loading_message(self.loading))

    def _on_client_error(self, content: dict[str, Any]) -> None:
        code = content.get("code")
        if code is None:
            self.widget.clear_client_error()
            return
        message = content.get("message", "")
        recoverable = content.get("recoverable", False)
        if (
            not isinstance(code, str)
            or not isinstance(message, str)
            or not isinstance(recoverable, bool)
        ):
            raise ProtocolError(
                "BAD_MESSAGE",
                "client_error needs a string 'code' (or null), a string 'message' and a "
                "boolean 'recoverable'",
            )
        self.widget.show_error(
            {"code": code, "message": message, "recoverable": recoverable}, client=True
        )

    # -- Sink (worker / loader threads) ---------------------------------------------------
    def on_result(self, session: Session, frame: Frame, result: SegResult) -> None:
        if session.closed:
            return
        shown = None
        if frame.rgb is not None and result.frame is not None:  # a kernel-side source
            t0 = time.perf_counter()
            size, quality = self.widget.display_limits()
            shown = display_jpeg(result.frame, size, quality)
            result.timings["encode_frame"] = (time.perf_counter() - t0) * 1000
        header, buffers = result_message(frame, result, confidence=session.want_confidence)
        if shown is not None:
            jpeg, width, height = shown
            header["frame"] = {"width": width, "height": height, "encoding": "jpeg"}
            buffers.append(jpeg)
        self.send(header, buffers)
        self.widget.deliver_result(frame, result)

    def on_error(self, session: Session, frame: Frame | None, error: Exception) -> None:
        if session.closed:
            return
        if frame is None:  # a profile failed to load
            self.loading = None
        msg = error_message(error, None if frame is None else frame.seq)
        self.send(msg)
        self.widget.deliver_error(frame, msg)

    def on_stats(self, session: Session, stats: dict[str, Any]) -> None:
        if session.closed:
            return
        self.send({"type": "stats", "stats": stats})
        self.widget.deliver_stats(stats)

    def on_ready(self, session: Session, engine: Engine) -> None:
        if session.closed:
            return
        self.loading = None
        self.send(ready_message(engine))
        self.widget.deliver_ready(engine)

    def on_loading(self, session: Session, profile: str) -> None:
        if session.closed:
            return
        self.loading = profile
        self.send(loading_message(profile))
