"""What :class:`segwidget.SegWidget` hands to Python: results and recordings."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from .edges import mask_at as edge_mask_at
from .engine import SegResult

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Result:
    """One segmented frame as the widget saw it.

    ``frame``: the RGB frame (``H x W x 3`` uint8, never mirrored); ``mask``: uint8 class
    indices at model resolution (``mask_at(h, w)`` scales it with the view's smooth edges);
    ``confidence``: uint8 0..255, the shape of ``mask``, where the profile gives one
    (``person``: the person probability; with ``cluster=``, only while ``viz_mode`` or the
    view uses it: an effect), else None; ``alpha``: the temporally smoothed person
    alpha the view draws from (the background effects; a ``confidence``'s classes);
    ``shown``: the class mask the view draws, ``mask`` steadied over results (None where
    ``alpha`` decides the classes); ``classes``: ``[(name, pixel fraction)]`` largest
    first; ``timings``: milliseconds per stage; ``overlay()``: the composite with the
    widget's current settings (or the ones you pass).
    """

    seq: int
    frame: np.ndarray
    mask: np.ndarray
    class_ids: list[tuple[int, float]]
    labels: list[str]
    timings: dict[str, float]
    profile: str
    t_capture: float | None
    received: float  # time.time() when the result was sent to the view
    confidence: np.ndarray | None = None
    _render: Callable[..., np.ndarray] | None = None
    alpha: np.ndarray | None = None
    shown: np.ndarray | None = None

    @classmethod
    def from_seg(
        cls,
        seq: int,
        t_capture: float | None,
        seg: SegResult,
        render: Callable[..., np.ndarray],
        alpha: np.ndarray | None = None,
        shown: np.ndarray | None = None,
    ) -> Result:
        return cls(
            seq=seq,
            frame=seg.frame,
            mask=seg.mask,
            class_ids=list(seg.class_ids),
            labels=list(seg.labels),
            timings=dict(seg.timings),
            profile=seg.profile,
            t_capture=t_capture,
            received=time.time(),
            confidence=seg.confidence,
            _render=render,
            alpha=alpha,
            shown=shown,
        )

    @property
    def classes(self) -> list[tuple[str, float]]:
        """Detected classes as ``(name, pixel fraction)``, largest first."""
        return [(self.labels[i], f) for i, f in self.class_ids]

    def fraction(self, name: str) -> float:
        """Pixel fraction of class ``name`` (0.0 when absent); e.g. ``r.fraction("person")``."""
        if name not in self.labels:
            raise ValueError(f"unknown class {name!r}; valid names: {', '.join(self.labels)}")
        i = self.labels.index(name)
        return next((f for c, f in self.class_ids if c == i), 0.0)

    def mask_at(self, height: int | None = None, width: int | None = None) -> np.ndarray:
        """The class mask at ``height x width`` (default: the frame's) with the view's smooth
        edges: the confidence scaled bilinearly and cut at 0.5 where the profile gives one,
        else the bilinear one-hot vote (:func:`segwidget.edges.mask_at`)."""
        if height is None or width is None:
            height, width = self.frame.shape[:2]
        return edge_mask_at(self.mask, self.confidence, height, width)

    def overlay(self, **settings: Any) -> np.ndarray:
        """The composite (RGB uint8) as the view draws it: ``viz_mode``, ``opacity``,
        ``colormap``, ``custom_palette``, ``class_filter``, ``background`` and ``mirror``
        default to the widget's."""
        if self._render is None:
            raise RuntimeError("this result is not attached to a widget")
        mask = self.mask if self.shown is None else self.shown
        return self._render(self.frame, mask, self.labels, self.confidence, self.alpha, **settings)

    def __repr__(self) -> str:
        top = ", ".join(f"{n} {f:.0%}" for n, f in self.classes[:3])
        h, w = self.frame.shape[:2]
        return f"Result(seq={self.seq}, profile={self.profile!r}, frame={w}x{h}, classes=[{top}])"


class RecordingResult(NamedTuple):
    path: Path
    frames: int  # composites written, one video frame each
    fps: float  # the file's frame rate: the measured rate of the results recorded
    duration_s: float  # wall time from the first to the last frame recorded


FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class Recording:
    """A recording in progress (see :meth:`SegWidget.record`). ``wait()`` gives the result.

    Composites are rendered on this recording's own thread (the stream is not slowed),
    spooled as JPEG in memory, and written when the recording ends at the rate they
    actually arrived, so the video plays in real time and ``fps`` is the measured one.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        seconds: float | None,
        render: Callable[[Result], np.ndarray],
        on_done: Callable[[Recording], None] | None = None,
        accept: Callable[[np.ndarray], bool] | None = None,
    ):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise ValueError(
                f"unsupported video extension {suffix!r}; use one of {', '.join(FOURCC)}"
            )
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be > 0 (or None: until stop()), got {seconds!r}")
        if not self.path.parent.exists():
            raise FileNotFoundError(f"folder does not exist: {self.path.parent}")
        self.seconds = seconds
        self._render = render
        self._on_done = on_done
        self._accept = accept  # which frames to record (e.g. from the first full-size one)
        self._queue: queue.SimpleQueue[tuple[float, Result] | None] = queue.SimpleQueue()
        self._spool: list[tuple[float, bytes]] = []
        self._count = 0
        self._stop = threading.Event()
        self._done = threading.Event()
        self._result: RecordingResult | None = None
        self._error: BaseException | None = None
        self._failure: BaseException | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="segwidget-record", daemon=True)
        self._thread.start()

    @property
    def frames(self) -> int:
        """Composites recorded so far."""
        return self._count

    def done(self) -> bool:
        return self._done.is_set()

    def push(self, result: Result) -> None:
        """A new result (called on the worker thread; returns at once)."""
        if self._stop.is_set() or (self._accept is not None and not self._accept(result.frame)):
            return
        self._queue.put((time.monotonic(), result))

    def stop(self) -> None:
        """End the recording now (the file is written on the recording's thread)."""
        self._stop.set()
        self._queue.put(None)

    def fail(self, error: BaseException) -> None:
        """End the recording because the stream failed: ``wait()`` raises ``error`` when no
        result was recorded (what was recorded before is still written)."""
        self._failure = error
        self.stop()

    def wait(self, timeout: float | None = None) -> RecordingResult:
        """Block until the file is written; return ``(path, frames, fps, duration_s)``."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the recording to {self.path} is still running")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def __await__(self):
        """``await rec``: :meth:`wait` on a thread, so the caller's event loop keeps running.

        In a notebook the kernel receives the view's frames on its event loop: a blocking
        ``wait()`` in a cell stops them for as long as it waits, ``await rec`` does not.
        """
        return asyncio.get_running_loop().run_in_executor(None, self.wait).__await__()

    def __repr__(self) -> str:
        state = "done" if self.done() else "recording"
        return f"Recording({str(self.path)!r}, {state}, frames={self.frames})"

    # -- thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            deadline = None if self.seconds is None else self.started + self.seconds
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    break
                t, result = item
                if deadline is not None and t > deadline:
                    break
                rgb = self._render(result)
                ok, buf = cv2.imencode(
                    ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
                )
                if ok:
                    self._spool.append((t, buf.tobytes()))
                    self._count += 1
            self._stop.set()
            self._result = self._write()
        except BaseException as exc:
            self._error = exc
        finally:
            self._stop.set()
            self._done.set()
            if self._on_done is not None:
                try:
                    self._on_done(self)
                except Exception:
                    log.exception("recording callback failed")

    def _write(self) -> RecordingResult:
        n = len(self._spool)
        if n == 0 and self._failure is not None:
            raise self._failure
        if n == 0:
            raise RuntimeError(
                f"no results arrived while recording {self.path}: is the stream running "
                "(the view open and started, or a kernel source playing)?"
            )
        span = self._spool[-1][0] - self._spool[0][0]
        fps = (n - 1) / span if n > 1 and span > 0 else 1.0
        first = cv2.imdecode(np.frombuffer(self._spool[0][1], np.uint8), cv2.IMREAD_COLOR)
        h, w = first.shape[:2]
        codec = FOURCC[self.path.suffix.lower()]
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {self.path} (codec {codec})")
        try:
            for _, data in self._spool:
                bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                if bgr.shape[:2] != (h, w):
                    bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
                writer.write(bgr)
        finally:
            writer.release()
        self._spool.clear()
        return RecordingResult(self.path, n, round(fps, 3), round(span, 3))


class ResultHub:
    """A widget's results: the newest, how many, waiters, ``on_result`` listeners, recordings.

    ``failure()`` returns the error that keeps the stream from producing results, or None:
    waits end with it instead of timing out, and recordings in progress end with it.
    """

    def __init__(self, failure: Callable[[], BaseException | None]):
        self._failure = failure
        self._cond = threading.Condition()
        self._latest: Result | None = None
        self.count = 0
        self._listeners: list[Callable[[Result], Any]] = []
        self._recordings: list[Recording] = []

    def _check(self) -> None:
        error = self._failure()
        if error is not None:
            raise error

    def latest(self, timeout: float | None = None) -> Result | None:
        with self._cond:
            if self._latest is None and timeout is not None:
                self._cond.wait_for(lambda: self._latest is not None or self._failure(), timeout)
            self._check()
            return self._latest

    def wait_for(self, after: int, timeout: float) -> Result:
        with self._cond:
            if not self._cond.wait_for(lambda: self.count > after or self._failure(), timeout):
                raise TimeoutError(f"no result within {timeout} s")
            self._check()
            assert self._latest is not None
            return self._latest

    def wait_until(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Wait for ``done()`` (re-checked at each :meth:`wake`); raise the failure if any."""
        with self._cond:
            ok = self._cond.wait_for(lambda: done() or self._failure(), timeout)
            self._check()
            return ok

    def check(self) -> None:
        """Raise the failure, if any."""
        self._check()

    def wake(self) -> None:
        """Something waits may depend on changed (an error, a source that finished)."""
        with self._cond:
            self._cond.notify_all()
            error = self._failure()
            recordings = list(self._recordings) if error is not None else []
        for rec in recordings:
            rec.fail(error)

    def publish(self, result: Result) -> None:
        """A new result: store it, wake the waiters, feed recordings and listeners."""
        with self._cond:
            self._latest = result
            self.count += 1
            self._cond.notify_all()
            listeners = list(self._listeners)
            recordings = list(self._recordings)
        for rec in recordings:
            rec.push(result)
        for callback in listeners:
            try:
                callback(result)
            except Exception:
                log.exception("on_result callback %r raised", callback)

    def listen(self, callback: Callable[[Result], Any]) -> Callable[[], None]:
        with self._cond:
            self._listeners.append(callback)

        def remove() -> None:
            with self._cond:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def add_recording(self, rec: Recording) -> None:
        with self._cond:
            self._recordings.append(rec)

    def recording_done(self, rec: Recording) -> None:
        with self._cond:
            if rec in self._recordings:
                self._recordings.remove(rec)

    def stop_recordings(self) -> None:
        with self._cond:
            recordings = list(self._recordings)
        for rec in recordings:
            rec.stop()
