"""Frames at the camera's resolution while a snapshot or a recording needs them.

The browser uploads each frame at the model's input size (``upload_size="model"``): the mask
is the same and the upload small. A picture or a clip of 256x192 from a 640x480 camera is
not what a user saving one expects, so while a snapshot or a recording runs the widget asks
the view for ``"full"`` frames and puts the setting back when the last of them ends.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .results import Recording, Result, ResultHub

log = logging.getLogger(__name__)

#: Results a gate waits for a frame larger than the model's input before it takes the
#: frames as they come: a camera no larger than the model input sends its full frames
#: already (the browser never upscales), and a view that does not follow (an old bundle)
#: must not stall a recording.
SETTLE_RESULTS = 10


def in_kernel_cell() -> bool:
    """Whether this call runs in a notebook cell (an IPython kernel's main thread), where a
    blocking wait would hold the view's frames until the cell ends."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return False
    return Kernel.initialized()


def is_full_size(frame: np.ndarray, input_size: int | None) -> bool:
    """Whether ``frame`` is larger than a model-size upload (long side <= ``input_size``)."""
    return input_size is not None and max(frame.shape[:2]) > input_size


class FullSizeGate:
    """Passes results from the first full-size one on (see :data:`SETTLE_RESULTS`).

    Called with each new result, on the worker thread."""

    def __init__(self, input_size: Callable[[], int | None]):
        self._input_size = input_size
        self._seen = 0
        self.open = False

    def __call__(self, frame: np.ndarray) -> bool:
        if not self.open:
            self._seen += 1
            self.open = is_full_size(frame, self._input_size()) or self._seen > SETTLE_RESULTS
        return self.open


class FullSizeLease:
    """Counts who needs full-size frames; the first sets ``upload_size="full"``, the last
    puts back what was there (unless the user changed it meanwhile)."""

    def __init__(self, get: Callable[[], str], set_: Callable[[str], None]):
        self._get, self._set = get, set_
        self._lock = threading.Lock()
        self._holders = 0
        self._restore: str | None = None

    @property
    def holders(self) -> int:
        return self._holders

    def acquire(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders == 1 and self._get() != "full":
                self._restore = self._get()
                self._set("full")

    def release(self) -> None:
        with self._lock:
            if self._holders == 0:
                return
            self._holders -= 1
            if self._holders == 0 and self._restore is not None:
                if self._get() == "full":
                    self._set(self._restore)
                self._restore = None


def next_passing(hub: ResultHub, gate: FullSizeGate, timeout: float | None) -> Result | None:
    """The first new result the gate passes, or None after ``timeout``; raises the stream's
    failure as the hub's waits do."""
    chosen: list[Result] = []

    def take(result: Result) -> None:
        if not chosen and gate(result.frame):
            chosen.append(result)
            hub.wake()  # listeners run after the hub's own wake-up for this result

    remove = hub.listen(take)
    try:
        hub.wait_until(lambda: bool(chosen), timeout)
    finally:
        remove()
    return chosen[0] if chosen else None


class FullSizeFrames:
    """A widget's snapshots and recordings at the camera's resolution.

    ``widget``: its ``source_kind``, ``running`` and ``upload_size`` traits; ``session()``:
    its :class:`~segwidget.stream.Session` (the engine's input size)."""

    def __init__(self, hub: ResultHub, widget: Any, session: Callable[[], Any]):
        self._hub, self._widget, self._session = hub, widget, session
        self.lease = FullSizeLease(
            lambda: widget.upload_size, lambda value: setattr(widget, "upload_size", value)
        )

    def _input_size(self) -> int | None:
        session = self._session()
        return getattr(session.engine if session else None, "input_size", None)

    def _from_browser(self) -> bool:
        return self._widget.source_kind == "browser"

    def snapshot(self, timeout: float, save: Callable[[Result], Any]) -> None:
        """``save`` a full-size result: the newest if it is one, else the first one the view
        sends once asked (the newest, with a warning, if none comes within ``timeout``). A
        kernel source's, or a stopped stream's, newest result as it is.

        In a notebook cell the kernel takes the view's frames only once the cell ends (see
        :func:`in_kernel_cell`): there it returns at once and saves when the frame is in."""
        self._hub.check()
        newest = self._hub.latest()
        if (
            not self._from_browser()
            or not self._widget.running
            or (newest is not None and is_full_size(newest.frame, self._input_size()))
        ):
            save(self._newest(timeout))
            return
        self.lease.acquire()
        if in_kernel_cell() and newest is not None:
            self._save_later(timeout, save)
            return
        try:
            result = next_passing(self._hub, FullSizeGate(self._input_size), timeout)
        finally:
            self.lease.release()
        save(result if result is not None else self._newest(0, f"within {timeout} s"))

    def _newest(self, timeout: float, late: str = "") -> Result:
        result = self._hub.latest(timeout)
        if result is None:
            raise RuntimeError(
                "no result yet: open the widget's view (or start a kernel source) first"
            )
        if late:
            h, w = result.frame.shape[:2]
            warnings.warn(
                f"no full-size frame from the view {late}: the newest result ({w}x{h}) is saved",
                stacklevel=4,
            )
        return result

    def _save_later(self, timeout: float, save: Callable[[Result], Any]) -> None:
        """Save the first full-size result when it arrives (on the worker thread), or the
        newest after ``timeout``; the lease ends with it."""
        gate, lock, done = FullSizeGate(self._input_size), threading.Lock(), []

        def finish(result: Result | None, late: bool) -> None:
            with lock:
                if done:
                    return
                done.append(True)
            remove()
            timer.cancel()
            self.lease.release()
            try:
                if result is None or late:
                    result = self._newest(0, f"within {timeout} s")
                save(result)
            except Exception:
                log.exception("the snapshot could not be saved")

        remove = self._hub.listen(lambda r: gate(r.frame) and finish(r, False))
        timer = threading.Timer(timeout, lambda: finish(None, True))
        timer.daemon = True
        timer.start()

    def record(
        self,
        path: str | os.PathLike,
        seconds: float | None,
        render: Callable[[Result], np.ndarray],
    ) -> Recording:
        """A :class:`Recording` of full-size frames (from the first one the view sends)."""
        self._hub.check()
        if not self._from_browser():  # a kernel source's frames are full size already
            rec = Recording(path, seconds, render, self._hub.recording_done)
            self._hub.add_recording(rec)
            return rec
        self.lease.acquire()

        def done(rec: Recording) -> None:
            self._hub.recording_done(rec)
            self.lease.release()

        try:
            rec = Recording(path, seconds, render, done, FullSizeGate(self._input_size))
        except Exception:
            self.lease.release()
            raise
        self._hub.add_recording(rec)
        return rec
