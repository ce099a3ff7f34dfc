"""Kernel-side frame sources (design decision 7).

When the browser cannot capture (VS Code webviews block the camera, a remote kernel has no
browser camera, tests need deterministic input) the kernel reads the frames itself:

* :class:`CameraSource`: an OpenCV camera index, or a stream URL (``rtsp://``, ``http://``).
* :class:`VideoFileSource`: a video file, played in real time (or as fast as it is segmented).
* :class:`IterableSource`: any iterable or generator of ``H x W x 3`` uint8 RGB frames.

A :class:`SourceRunner` thread reads a source and feeds a :class:`segwidget.stream.Session`,
paced so that at most one frame waits for the worker:

* live sources (cameras) and real-time ones (``fps`` set) submit each frame when it is due;
  the session keeps only the newest, so a slow model drops frames instead of queueing them;
* the others (``fps=None``) submit the next frame only when the previous one was segmented:
  nothing is dropped and the source is read no faster than the model runs.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import SegwidgetError
from .stream import Frame

log = logging.getLogger(__name__)

#: Reads a camera may fail in a row before it counts as closed.
CAMERA_READ_RETRIES = 5
DEFAULT_FILE_FPS = 30.0


class SourceError(SegwidgetError, RuntimeError):
    """A kernel-side source failed: ``NO_CAMERA`` (cannot open) or ``CAMERA_CLOSED``."""

    def __init__(self, message: str, code: str = "CAMERA_CLOSED", recoverable: bool = True):
        super().__init__(message)
        self.code = code
        self.recoverable = recoverable


class FrameSource:
    """Base class. ``read`` returns an RGB frame, or ``None`` at the end of the stream.

    ``live``: frames keep coming whether or not they are read (a camera); always submit the
    newest. ``fps``: pace reading at this rate, skipping frames when behind; ``None`` (and not
    live): read the next frame when the previous one has been segmented.
    ``release_on_stop``: free the device while the widget is stopped (a camera's light goes
    off); otherwise a stopped source resumes where it was.
    """

    live: bool = False
    fps: float | None = None
    release_on_stop: bool = False
    description: str = "frames"

    def open(self, resolution: tuple[int, int] | None = None) -> None:
        """Prepare to read; called on the runner thread before the first ``read``."""

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def skip(self, n: int) -> bool:
        """Discard ``n`` frames (a real-time source that fell behind); False at the end."""
        return all(self.read() is not None for _ in range(n))

    def close(self) -> None:
        """Release the device or file. A later ``open`` starts again where it can."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


_holders: dict[int | str, CameraSource] = {}  # device -> the source that has it open
_holders_lock = threading.Lock()


class CameraSource(FrameSource):
    """An OpenCV camera (``device`` is an index) or network stream (a URL string).

    A device is read by one source at a time: opening it in a second widget hands it over,
    and the first one's next read raises ``CAMERA_CLOSED`` saying so.
    """

    live = True
    release_on_stop = True

    def __init__(self, device: int | str = 0):
        self.device = device
        self.description = f"camera {device!r}"
        self._cap: cv2.VideoCapture | None = None
        self._lock = threading.Lock()
        self._handed_over = False

    def open(self, resolution: tuple[int, int] | None = None) -> None:
        with _holders_lock:
            holder = _holders.get(self.device)
        if holder is not None and holder is not self:
            holder.hand_over()
        with self._lock:
            self._handed_over = False
            if self._cap is not None:
                return
            cap = cv2.VideoCapture(self.device)
            if not cap.isOpened():
                cap.release()
                what = (
                    f"camera index {self.device}" if isinstance(self.device, int) else self.device
                )
                raise SourceError(
                    f"{what} could not be opened (OpenCV VideoCapture found no device there). "
                    "Check the index (0 is the first camera), that no other program holds it, "
                    "and that this kernel's machine has a camera; or use source='browser' for "
                    "the browser's webcam.",
                    code="NO_CAMERA",
                    recoverable=False,
                )
            if resolution:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(resolution[0]))
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(resolution[1]))
            self._cap = cap
        with _holders_lock:
            _holders[self.device] = self

    def hand_over(self) -> None:
        """Release the device for a newer source; this one's next read raises CAMERA_CLOSED."""
        with self._lock:  # waits for a read in progress: OpenCV captures are not thread-safe
            self._handed_over = True
            self._release()

    def read(self) -> np.ndarray | None:
        with self._lock:
            return self._read()

    def _read(self) -> np.ndarray:
        cap = self._cap
        if cap is None and self._handed_over:
            raise SourceError(
                f"{self.description} was handed over to a newer widget using the same device "
                "(one widget reads a camera at a time). Close that widget (w.close()) and set "
                "running = True here to take it back.",
                recoverable=False,  # it resumes when the user asks, not by itself
            )
        if cap is None:
            raise SourceError(f"{self.description} is closed")
        for _ in range(CAMERA_READ_RETRIES):
            ok, bgr = cap.read()
            if ok and bgr is not None:
                return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        raise SourceError(
            f"{self.description} stopped delivering frames "
            f"({CAMERA_READ_RETRIES} reads in a row failed)",
            code="CAMERA_CLOSED",
        )

    def close(self) -> None:
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        with _holders_lock:
            if _holders.get(self.device) is self:
                del _holders[self.device]


class VideoFileSource(FrameSource):
    """A video file. ``realtime``: play at the file's rate (``fps`` overrides it), dropping
    frames the model cannot keep up with; otherwise segment every frame. ``loop``: restart
    at the end."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        realtime: bool = True,
        fps: float | None = None,
        loop: bool = False,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        self.loop = loop
        self.description = str(self.path)
        self._cap: cv2.VideoCapture | None = None
        self._lock = threading.Lock()
        self._open_capture()  # fail now, in the caller's cell, if OpenCV cannot read it
        file_fps = self._cap.get(cv2.CAP_PROP_FPS) if self._cap is not None else 0.0
        if not realtime:
            self.fps = None
        elif fps is not None:
            if not fps > 0:
                raise ValueError(f"fps must be > 0, got {fps!r}")
            self.fps = float(fps)
        else:
            ok = isinstance(file_fps, float) and math.isfinite(file_fps) and 0 < file_fps <= 1000
            self.fps = file_fps if ok else DEFAULT_FILE_FPS
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def _open_capture(self) -> None:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise ValueError(f"OpenCV cannot decode the video file {self.path}")
        self._cap = cap

    def open(self, resolution: tuple[int, int] | None = None) -> None:
        with self._lock:
            if self._cap is None:
                self._open_capture()

    def read(self) -> np.ndarray | None:
        cap = self._cap
        if cap is None:
            return None
        ok, bgr = cap.read()
        if not ok and self.loop:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = cap.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def skip(self, n: int) -> bool:
        cap = self._cap
        for _ in range(n):
            if cap is None or not cap.grab():
                if not self.loop or cap is None:
                    return False
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return True

    def close(self) -> None:
        """Release the file; opening it again starts from the beginning."""
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None


class IterableSource(FrameSource):
    """Frames from an iterable or generator (``H x W x 3`` uint8 RGB; anything with
    ``__array__``, such as a PIL image, is converted). ``fps``: pace at this rate, dropping
    frames the model cannot keep up with; ``None``: segment every frame, in order."""

    def __init__(self, frames: Iterable[Any], *, fps: float | None = None):
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.fps = None if fps is None else float(fps)
        self._frames = frames
        self._iter: Any = None
        self.description = type(frames).__name__

    def open(self, resolution: tuple[int, int] | None = None) -> None:
        if self._iter is None:
            self._iter = iter(self._frames)

    def read(self) -> np.ndarray | None:
        try:
            frame = next(self._iter)
        except StopIteration:
            return None
        except Exception as exc:
            raise SourceError(
                f"the frame iterable raised {type(exc).__name__}: {exc}",
                code="CAMERA_CLOSED",
                recoverable=False,
            ) from exc
        if not isinstance(frame, np.ndarray) and hasattr(frame, "__array__"):
            frame = np.asarray(frame)
        return frame


def make_source(source: Any) -> FrameSource | None:
    """``source=`` of :class:`SegWidget` -> a :class:`FrameSource`, or None for the browser.

    An int is a camera index; a string with ``://`` a stream URL; another string or path a
    video file; a :class:`FrameSource` is used as is; a numpy array of ``N x H x W x 3``
    frames, one ``H x W x 3`` frame, or any other iterable gives its frames.
    """
    if isinstance(source, str) and source == "browser":
        return None
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, bool):
        raise TypeError("source must be 'browser', a camera index, a path or frames; got a bool")
    if isinstance(source, int | np.integer):
        return CameraSource(int(source))
    if isinstance(source, str) and "://" in source:
        return CameraSource(source)
    if isinstance(source, str | os.PathLike):
        return VideoFileSource(source)
    if isinstance(source, np.ndarray):
        if source.ndim == 3:
            return IterableSource([source])
        if source.ndim == 4:
            return IterableSource(source)
        raise ValueError(
            f"an array source must be one H x W x 3 frame or N x H x W x 3 frames, "
            f"got shape {source.shape}"
        )
    if isinstance(source, Iterable):
        return IterableSource(source)
    raise TypeError(
        "source must be 'browser', a camera index (int), a video path or URL, a FrameSource, "
        f"or an iterable of RGB frames; got {type(source).__name__}"
    )


class SourceRunner:
    """A thread that reads ``source`` and calls ``submit(Frame)``.

    ``frame_done(seq)`` must be called (by the transport's sink) when a submitted frame's
    result or error has been sent: paced sources wait for it, and it measures the kernel-side
    latency (capture to result sent) reported back as the next frame's ``feedback``.
    ``on_error(exc)`` reports a source failure; ``on_finish(reason)`` runs once when the
    thread ends, with ``"end"`` (end of stream), ``"error"`` or ``"stopped"``.
    """

    #: How long the end of a stream waits for its last frame's result before finishing.
    LAST_FRAME_TIMEOUT_S = 60.0

    def __init__(
        self,
        source: FrameSource,
        submit: Callable[[Frame], None],
        *,
        on_error: Callable[[Exception], None],
        on_finish: Callable[[str], None],
        resolution: tuple[int, int] | None = None,
        first_seq: int = 0,
        name: str = "segwidget-source",
    ):
        self.source = source
        self._submit = submit
        self._on_error = on_error
        self._on_finish = on_finish
        self.resolution = resolution
        self._stop = threading.Event()
        self.finished = threading.Event()
        self.reason: str | None = None
        self.frames_read = 0
        self._cond = threading.Condition()
        self._seq = first_seq  # frames get first_seq + 1, + 2, ...: a restart continues
        self._last_submitted = first_seq
        self._done_seq = first_seq  # frames settle in order: a newer seq settles older ones
        self._t_capture: dict[int, float] = {}
        self._feedback: dict[str, float] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- control --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def last_seq(self) -> int:
        """The seq of the last frame submitted (``first_seq`` if none)."""
        return self._seq

    def frame_done(self, seq: int) -> None:
        """The result (or error) of frame ``seq`` was sent."""
        now = time.time() * 1000
        with self._cond:
            t = self._t_capture.pop(seq, None)
            for old in [s for s in self._t_capture if s < seq]:
                del self._t_capture[old]
            if t is not None:
                self._feedback = {"seq": seq, "latency_ms": round(now - t, 1)}
            self._done_seq = max(self._done_seq, seq)
            self._cond.notify_all()

    # -- thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        reason = "stopped"
        try:
            self.source.open(self.resolution)
            if self.source.live:
                ended = self._run_live()
            elif self.source.fps:
                ended = self._run_realtime(self.source.fps)
            else:
                ended = self._run_paced()
            if ended:
                reason = "end"
                self._wait_done(self._last_submitted, self.LAST_FRAME_TIMEOUT_S)
        except Exception as exc:
            reason = "error"
            if not isinstance(exc, SourceError):
                log.exception("frame source %r failed", self.source)
                exc = SourceError(f"{self.source!r} failed: {type(exc).__name__}: {exc}")
            self._safe(self._on_error, exc)
        finally:
            if reason != "stopped" or self.source.release_on_stop:
                self._safe(self.source.close)
            self.reason = reason
            self._safe(self._on_finish, reason)
            self.finished.set()

    def _next(self) -> np.ndarray | None:
        frame = self.source.read()
        if frame is not None:
            self.frames_read += 1
        return frame

    def _send(self, rgb: np.ndarray) -> bool:
        """Submit a frame unless the runner was stopped while reading it."""
        if self._stop.is_set():
            return False
        t_capture = time.time() * 1000
        with self._cond:
            self._seq += 1
            seq = self._seq
            self._t_capture[seq] = t_capture
            feedback, self._feedback = self._feedback, None
        self._last_submitted = seq
        self._submit(Frame(seq=seq, rgb=rgb, t_capture=t_capture, feedback=feedback))
        return True

    def _wait_done(self, seq: int, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._done_seq < seq and not self._stop.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return self._done_seq >= seq

    def _run_live(self) -> bool:
        while not self._stop.is_set():
            frame = self._next()
            if frame is None:
                return True
            self._send(frame)
        return False

    def _run_paced(self) -> bool:
        while not self._stop.is_set():
            frame = self._next()
            if frame is None:
                return True
            self._send(frame)
            self._wait_done(self._last_submitted)
        return False

    def _run_realtime(self, fps: float) -> bool:
        t0 = time.monotonic()
        index = 0
        while not self._stop.is_set():
            frame = self._next()
            if frame is None:
                return True
            self._send(frame)
            index += 1
            due = t0 + index / fps
            late = time.monotonic() - due
            if late < 0:
                self._stop.wait(-late)  # pacing to the source's frame rate, not a sync point
            elif (behind := int(late * fps)) > 0:
                if not self.source.skip(behind):
                    return True
                index += behind
        return False

    @staticmethod
    def _safe(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("frame source callback %r failed", fn)
