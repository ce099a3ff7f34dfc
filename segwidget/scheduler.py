"""The worker thread(s) that segment the sessions' frames, and their watchdog.

A :class:`Scheduler` serves sessions with pending frames round-robin, one frame each per
turn, so no client starves while another floods (design decision 11). Sessions are
:class:`segwidget.stream.Session` objects; this module only needs what :class:`Served`
names, so it imports nothing of the stream.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InferenceTimeoutError

log = logging.getLogger(__name__)

#: An inference running longer than this is reported and its engine set aside (the watchdog).
DEFAULT_INFERENCE_TIMEOUT_S = 30.0


class Served(Protocol):
    """What the scheduler uses of a session (:class:`segwidget.stream.Session`)."""

    name: str
    engine: Any
    closed: bool
    sink: Any

    def take(self) -> Any: ...
    def infer(self, frame: Any, engine: Any = None) -> Any: ...
    def deliver(self, frame: Any, outcome: Any) -> None: ...


@dataclass
class _Job:
    """A frame being segmented by one worker thread."""

    session: Served
    frame: Any
    engine: Any
    started: float
    abandoned: bool = False  # the watchdog gave up on it; its outcome is discarded
    inferred: bool = False  # inference returned; the outcome is being delivered


class Scheduler:
    """Worker thread(s) serving sessions round-robin, newest frame first, one frame per turn.

    A session is in one worker's hands at a time (its frames stay in order, at most one in
    process); several workers serve several sessions at once, which a remote engine batches
    (:meth:`ensure_workers`, ``RemoteEngine.concurrency``).

    A watchdog (``inference_timeout_s``; None: off) reports an inference running longer as a
    recoverable ``INFERENCE_TIMEOUT`` to its session, sets that engine aside until the call
    returns (its late outcome is discarded), and starts a replacement worker, so sessions on
    other engines keep being served. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        workers: int = 1,
        name: str = "segwidget",
        inference_timeout_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if inference_timeout_s is None:
            inference_timeout_s = default_inference_timeout()
        self.name = name
        self.inference_timeout_s = inference_timeout_s or None
        self._clock = clock
        self._ready: collections.deque[Served] = collections.deque()
        self._queued: set[int] = set()
        self._busy: dict[int, threading.Thread] = {}  # session -> the worker holding it
        self._again: set[int] = set()  # busy sessions notified meanwhile: re-queued when done
        self._cond = threading.Condition()
        self._stopped = False
        self._stop = threading.Event()
        self._jobs: dict[threading.Thread, _Job] = {}
        self._wedged: dict[int, _Job] = {}  # id(engine) -> its hung job
        self._threads: list[threading.Thread] = []
        self._spawned = 0
        with self._cond:
            for _ in range(workers):
                self._spawn()
        if self.inference_timeout_s:
            period = min(1.0, self.inference_timeout_s / 4)
            threading.Thread(
                target=self._watch, args=(period,), name=f"{name}-watchdog", daemon=True
            ).start()

    @property
    def workers(self) -> list[threading.Thread]:
        """The live worker threads (an abandoned one leaves this list)."""
        with self._cond:
            return list(self._threads)

    def ensure_workers(self, n: int) -> None:
        """Grow to at least ``n`` live worker threads (never shrinks): a remote engine wants
        frames of several sessions in flight at once so its replicas can batch them."""
        with self._cond:
            while not self._stopped and len(self._threads) < n:
                self._spawn()

    def _spawn(self) -> None:
        t = threading.Thread(
            target=self._work, name=f"{self.name}-worker-{self._spawned}", daemon=True
        )
        self._spawned += 1
        self._threads.append(t)
        t.start()

    def notify(self, session: Served) -> None:
        with self._cond:
            if id(session) in self._busy:
                self._again.add(id(session))  # its worker re-queues it when done
                return
            if id(session) not in self._queued and not session.closed:
                self._queued.add(id(session))
                self._ready.append(session)
                self._cond.notify()

    def remove(self, session: Served) -> None:
        with self._cond:
            if id(session) in self._queued:
                self._queued.discard(id(session))
                self._ready.remove(session)
            self._again.discard(id(session))

    def _next(self) -> Served | None:
        """The next ready session whose engine is not wedged (those wait their turn)."""
        with self._cond:
            while not self._stopped:
                for i, session in enumerate(self._ready):
                    if session.engine is None or id(session.engine) not in self._wedged:
                        del self._ready[i]
                        self._queued.discard(id(session))
                        self._busy[id(session)] = threading.current_thread()
                        return session
                self._cond.wait()
            return None

    def _work(self) -> None:
        while (session := self._next()) is not None:
            try:
                served = self._serve(session)
            finally:
                again = self._release(session)
            if again:
                self.notify(session)  # a frame came while this worker held it
            # Idle, this worker must not keep the last session (its sink, widget, frames)
            # alive: found by the widget-close test.
            del session
            if not served:
                return

    def _release(self, session: Served) -> bool:
        """Let go of ``session`` (unless the watchdog already did); True if it was notified
        while held."""
        with self._cond:
            if self._busy.get(id(session)) is not threading.current_thread():
                return False
            del self._busy[id(session)]
            if id(session) in self._again:
                self._again.discard(id(session))
                return True
            return False

    def _serve(self, session: Served) -> bool:
        """Segment ``session``'s newest frame; False if the watchdog gave up on this worker."""
        engine = session.engine
        if engine is None:
            return True  # notified again by switch() once the engine is ready
        frame = session.take()
        if frame is None or session.closed:
            return True
        me = threading.current_thread()
        job = _Job(session, frame, engine, self._clock())
        with self._cond:
            self._jobs[me] = job
        try:
            outcome = session.infer(frame, engine)
            with self._cond:
                job.inferred = True
                if job.abandoned:  # a replacement worker already took this one's place
                    self._wedged.pop(id(engine), None)
            if job.abandoned:
                log.warning(
                    "%s: frame %s returned after the watchdog gave up on it; discarded",
                    session.name,
                    frame.seq,
                )
                return False
            session.deliver(frame, outcome)
            return True
        finally:
            with self._cond:
                self._jobs.pop(me, None)
                self._cond.notify_all()  # wait_idle(), and sessions of an engine set aside

    def wait_idle(self, session: Served, timeout: float | None = None) -> bool:
        """Wait until no worker is segmenting or delivering a frame of ``session``."""
        me = threading.current_thread()
        with self._cond:
            return self._cond.wait_for(
                lambda: all(
                    j.session is not session or t is me or j.abandoned
                    for t, j in self._jobs.items()
                ),
                timeout,
            )

    def check(self, now: float | None = None) -> list[Served]:
        """One watchdog pass (the watchdog thread calls it); returns the sessions it reported."""
        timeout = self.inference_timeout_s
        if not timeout:
            return []
        now = self._clock() if now is None else now
        expired = []
        with self._cond:
            for thread, job in self._jobs.items():
                if not job.abandoned and not job.inferred and now - job.started > timeout:
                    job.abandoned = True
                    self._threads.remove(thread)
                    self._wedged[id(job.engine)] = job
                    expired.append(job)
                    if self._busy.get(id(job.session)) is thread:
                        # free for another worker: after a switch it may stream on
                        del self._busy[id(job.session)]
                        self._again.add(id(job.session))
                    if not self._stopped:
                        self._spawn()
        for job in expired:
            if id(job.session) in self._again:
                self._again.discard(id(job.session))
                self.notify(job.session)
            log.error(
                "%s: frame %s still in inference after %.0f s; engine set aside",
                job.session.name,
                job.frame.seq,
                now - job.started,
            )
            if not job.session.closed:
                error = InferenceTimeoutError(
                    f"inference took longer than {timeout:g} s; frames of this model wait until "
                    "it returns, other models keep streaming (inference_timeout_s)"
                )
                job.session.sink.on_error(job.session, job.frame, error)
        return [job.session for job in expired]

    def _watch(self, period: float) -> None:
        while not self._stop.wait(period):
            try:
                self.check()
            except Exception:  # the watchdog must outlive any sink's bug
                log.exception("watchdog pass failed")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            threads = list(self._threads)
        self._stop.set()
        for t in threads:
            if t is not threading.current_thread():
                t.join(timeout=5)


def default_inference_timeout() -> float:
    """``SEGWIDGET_INFERENCE_TIMEOUT_S`` (0: no watchdog), else 30 s."""
    raw = os.environ.get("SEGWIDGET_INFERENCE_TIMEOUT_S", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_INFERENCE_TIMEOUT_S
    except ValueError:
        log.warning("ignoring SEGWIDGET_INFERENCE_TIMEOUT_S=%r: not a number", raw)
        return DEFAULT_INFERENCE_TIMEOUT_S


_default: Scheduler | None = None
_default_lock = threading.Lock()


def default_scheduler() -> Scheduler:
    """The process-wide scheduler (one worker: a CPU runs one inference at a time best)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Scheduler()
        return _default
