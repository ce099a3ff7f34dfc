"""Per-client streaming shared by both transports (design decisions 5, 6 and 11).

A :class:`Session` is one client: a newest-frame slot (a new frame replaces a pending one,
which counts as dropped), its engine, and its stats. A :class:`Scheduler` owns the worker
thread(s): it serves sessions with pending frames round-robin, one frame each per turn, so
no client starves while another floods. Transports only call :meth:`Session.submit` from
their receive path and get results back through a :class:`Sink`, on the worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .adapt import DEFAULT_BUDGET_MS, JPEG_STEPS, Controller, ladder
from .engine import Engine, SegResult, get_engine
from .errors import ProtocolError, SegwidgetError
from .preprocess import DEFAULT_MAX_SIDE, decode_i420, decode_jpeg
from .protocol import encode_mask
from .scheduler import Scheduler
from .stats import STATS_PERIOD_S, StreamStats

log = logging.getLogger(__name__)

#: Below this model-only frame rate a profile is too slow for live video: the stats say so.
LIVE_MIN_FPS = 4.0


def slow_note(profile: str, inference_ms: float | None, device: str | None) -> str | None:
    """``"balanced: about 1.3 FPS on this CPU ..."`` when the model alone is too slow to follow
    a camera, else None."""
    if not inference_ms or inference_ms <= 0:
        return None
    fps = 1000.0 / inference_ms
    if fps >= LIVE_MIN_FPS:
        return None
    where = "GPU" if device == "cuda" else "CPU"
    return (
        f"{profile}: about {fps:.1f} FPS on this {where}, too slow for live video "
        "(a lighter profile keeps up)"
    )


@dataclass
class Frame:
    """One frame waiting for inference: JPEG or raw I420 bytes (from a browser: ``i420`` with
    its ``size``, on loopback) or an RGB array (kernel)."""

    seq: int
    jpeg: bytes | None = None
    rgb: np.ndarray | None = None
    i420: bytes | None = None
    size: tuple[int, int] | None = None  # (width, height) of an i420 frame
    mask_encoding: str | None = None  # the client's choice for this frame's mask
    t_capture: float | None = None  # client clock, echoed back untouched
    client: dict[str, float] = field(default_factory=dict)  # capture_ms, encode_ms
    feedback: dict[str, float] | None = None  # the client's report on an earlier result
    received: float = field(default_factory=time.perf_counter)


def load_engine(profile: str, **kwargs: Any) -> Engine:
    """The one place sessions and servers get an engine: :func:`~segwidget.engine.get_engine`,
    or with ``cluster=ADDR`` among ``kwargs`` the Ray Serve model tier's shared
    ``RemoteEngine`` (docs/SCALING.md; Ray is imported only then)."""
    cluster = kwargs.pop("cluster", None)
    if cluster:
        from .cluster.client import get_remote_engine

        return get_remote_engine(profile, cluster, **kwargs)
    return get_engine(profile, **kwargs)


class Sink(Protocol):
    """What a transport does with a session's output. Called on the worker thread."""

    def on_result(self, session: Session, frame: Frame, result: SegResult) -> None: ...
    def on_error(self, session: Session, frame: Frame | None, error: Exception) -> None: ...
    def on_stats(self, session: Session, stats: dict[str, Any]) -> None: ...
    def on_ready(self, session: Session, engine: Engine) -> None: ...
    def on_loading(self, session: Session, profile: str) -> None: ...


def error_message(error: Exception, seq: int | None = None) -> dict[str, Any]:
    """The ``error`` message for any exception (unexpected ones become INFERENCE_FAILED)."""
    if isinstance(error, SegwidgetError):
        msg = error.to_message()
    else:
        msg = {
            "type": "error",
            "code": "INFERENCE_FAILED",
            "message": f"{type(error).__name__}: {error}",
            "recoverable": True,
        }
    if seq is not None:
        msg["seq"] = seq
    return msg


def result_message(
    frame: Frame, result: SegResult, encoding: str = "deflate", confidence: bool = False
) -> tuple[dict[str, Any], list[bytes]]:
    """The binary protocol's ``result`` header and buffers for one segmented frame; the
    frame's own ``mask_encoding`` (the client's choice) wins over ``encoding``.

    Buffer 0 is the mask. With ``confidence`` (the client asked, see
    :meth:`Session.apply_options`) and a profile that gives one, buffer 1 is the uint8
    person probability, the mask's shape and encoding, and the header says so in
    ``"confidence"``; other clients pay nothing for it.
    """
    encoding = frame.mask_encoding or encoding
    t0 = time.perf_counter()
    payload = [_encoded(result, "deflated", result.mask, encoding)]
    soft = getattr(result, "confidence", None) if confidence else None
    if soft is not None:
        payload.append(_encoded(result, "deflated_confidence", soft, encoding))
    result.timings["encode"] = (time.perf_counter() - t0) * 1000
    h, w = result.mask.shape
    header = {
        "type": "result",
        "seq": frame.seq,
        "t_capture": frame.t_capture,
        "profile": result.profile,
        "mask": {"width": w, "height": h, "encoding": encoding},
        "classes": [[i, round(f, 5)] for i, f in result.class_ids],
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "server_ms": round(sum(result.timings.values()), 3),
    }
    if "quality" in result.extra:
        header["quality"] = result.extra["quality"]
    if soft is not None:
        header["confidence"] = {"width": w, "height": h, "encoding": encoding}
    return header, payload


def _encoded(result: SegResult, key: str, plane: np.ndarray, encoding: str) -> bytes:
    """``plane`` for the wire: a cluster replica's own deflate of it (``result.extra[key]``)
    where that is the encoding asked for, else encoded here."""
    deflated = result.extra.get(key)
    return deflated if encoding == "deflate" and deflated else encode_mask(plane, encoding)


class Session:
    """One client's stream. Transports call :meth:`submit`; results go to ``sink``."""

    def __init__(
        self,
        sink: Sink,
        scheduler: Scheduler,
        profile: str = "fast",
        engine_kwargs: dict[str, Any] | None = None,
        engine: Engine | None = None,
        name: str = "session",
        latency_budget_ms: float = DEFAULT_BUDGET_MS,
        adapt: bool = True,
    ):
        self.sink = sink
        self.scheduler = scheduler
        self.name = name
        self.engine_kwargs = dict(engine_kwargs or {})
        self.engine: Engine | None = engine
        self.profile = profile
        self.stats = StreamStats()
        self.closed = False
        self._slot: Frame | None = None
        self._slot_lock = threading.Lock()
        self._last_stats = time.perf_counter()
        self._switch_token = 0
        self.context: dict[str, Any] = {}  # transport's own per-session state
        self.adapter = self._controller(engine, latency_budget_ms, adapt)
        self._model_hw: tuple[int, int] | None = None  # of the latest result
        self.want_confidence = False  # the client's `options`: see apply_options
        #: The transport's own reason to want the confidence (a kernel-side effect, the spec
        #: protocol's effect PNGs), asked per frame; see :meth:`needs_confidence`.
        self.confidence_needed: Callable[[], bool] | None = None

    # -- adaptive quality ------------------------------------------------------------------
    @staticmethod
    def _controller(engine: Engine | None, budget_ms: float, enabled: bool) -> Controller:
        top = engine.input_size if engine else 320
        multiple = engine.profile.multiple if engine else 16
        return Controller(ladder(top, multiple, jpeg_steps=JPEG_STEPS), budget_ms, enabled)

    def configure_adapt(self, budget_ms: float | None = None, enabled: bool | None = None) -> None:
        """Change ``latency_budget_ms`` or switch adaptive quality on/off (bad budgets raise)."""
        self.adapter.configure(budget_ms, enabled)

    def quality(self) -> dict[str, Any]:
        """What the client should capture at: the model's long side, a frame rate cap and,
        while a thin link has stepped it down, a JPEG quality cap (``jpeg_quality``)."""
        level = self.adapter.level
        out = {"input_size": level.size, "max_fps": level.max_fps, "adapted": self.adapter.adapted}
        if level.jpeg_quality is not None:
            out["jpeg_quality"] = level.jpeg_quality
        return out

    def apply_options(self, message: dict[str, Any]) -> None:
        """The client's ``options`` message; a field left out keeps its value.

        ``confidence`` (bool): send the person probability with each result, as a second
        buffer (the background effects and the confidence view need it).
        """
        value = message.get("confidence", self.want_confidence)
        if not isinstance(value, bool):
            raise ProtocolError("BAD_MESSAGE", "options 'confidence' must be true or false")
        self.want_confidence = value

    def needs_confidence(self) -> bool:
        """Whether this session's results need the confidence: the client asked (``options``)
        or the transport's :attr:`confidence_needed` says so. A local engine has it at no cost
        either way; a cluster replica sends it only when this is true."""
        return self.want_confidence or bool(self.confidence_needed and self.confidence_needed())

    # -- engine -------------------------------------------------------------------------
    def start(self, profile: str | None = None) -> threading.Thread:
        """Load ``profile`` (default: the current one) in the background; see :meth:`switch`."""
        return self.switch(profile or self.profile)

    def switch(self, profile: str) -> threading.Thread:
        """Load ``profile`` in a background thread; the current engine keeps serving meanwhile.

        ``sink.on_loading`` fires now, ``sink.on_ready`` (or ``on_error``) when it is done;
        the time it took is ``stats.switch_ms`` (``stats.load_ms`` for the first profile a
        session loads). The newest request wins.
        """
        self._switch_token += 1
        token = self._switch_token
        self.sink.on_loading(self, profile)

        def load() -> None:
            t0 = time.perf_counter()
            try:
                engine = load_engine(profile, **self.engine_kwargs)
            except Exception as exc:
                log.warning("%s: loading profile %r failed: %s", self.name, profile, exc)
                if token == self._switch_token and not self.closed:
                    self.sink.on_error(self, None, _load_error(exc, self.engine is not None))
                return
            if token != self._switch_token or self.closed:
                return  # superseded by a newer switch
            elapsed = round((time.perf_counter() - t0) * 1000, 1)
            if self.engine is None:
                self.stats.load_ms = elapsed
            else:
                self.stats.switch_ms = elapsed
            self.engine, self.profile = engine, profile
            old = self.adapter
            self.adapter = self._controller(engine, old.budget_ms, old.enabled)
            # a remote engine batches across sessions only with several frames in flight
            self.scheduler.ensure_workers(getattr(engine, "concurrency", 1))
            self.sink.on_ready(self, engine)
            self.scheduler.notify(self)  # a frame may have waited for the engine

        thread = threading.Thread(target=load, name=f"segwidget-load-{profile}", daemon=True)
        thread.start()
        return thread

    # -- frames -------------------------------------------------------------------------
    def submit(self, frame: Frame) -> None:
        """Store ``frame`` as the newest; a frame still pending is dropped (and counted)."""
        if self.closed:
            return
        with self._slot_lock:
            if self._slot is not None:
                self.stats.frames_dropped += 1
            self._slot = frame
        self.stats.record_feedback(frame)
        latency = (frame.feedback or {}).get("latency_ms")
        if isinstance(latency, int | float) and self.adapter.observe(latency, frame.feedback):
            log.info("%s: adapted to %s (%s)", self.name, self.quality(), self.adapter.reason)
        self.scheduler.notify(self)

    def take(self) -> Frame | None:
        with self._slot_lock:
            frame, self._slot = self._slot, None
            return frame

    @property
    def queue_size(self) -> int:
        return int(self._slot is not None)

    def process(self, frame: Frame) -> None:
        """Segment one frame with the current engine and hand the outcome to the sink."""
        self.deliver(frame, self.infer(frame))

    def infer(self, frame: Frame, engine: Engine | None = None) -> SegResult | Exception:
        """Segment ``frame`` (with ``engine``, default the current one); never raises."""
        engine = engine or self.engine
        start = time.perf_counter()
        try:
            quality = self.quality()
            size = min(quality["input_size"], engine.input_size) if quality["adapted"] else None
            soft = self.needs_confidence()
            if frame.jpeg is not None:
                result = engine.segment_jpeg(frame.jpeg, size, confidence=soft)
            elif frame.i420 is not None and frame.size is not None:
                t0 = time.perf_counter()
                rgb = decode_i420(frame.i420, *frame.size, engine.max_side)
                decode_ms = (time.perf_counter() - t0) * 1000
                result = engine.segment(rgb, size, confidence=soft)
                result.timings["decode"] = decode_ms
            else:
                result = engine.segment(frame.rgb, size, confidence=soft)
        except Exception as exc:
            return exc
        result.timings["queue"] = (start - frame.received) * 1000
        result.extra["quality"] = quality
        self._model_hw = result.mask.shape[:2]
        return result

    def pixels(self, frame: Frame, result: SegResult) -> np.ndarray | None:
        """The RGB frame ``result`` was segmented from, for composites and ``Result.frame``.

        A remote engine decodes a JPEG on the cluster and sends back only the mask, so the
        JPEG is decoded here, once, when a transport needs the pixels (never for masks).
        """
        if result.frame is None and frame.jpeg is not None:
            max_side = getattr(self.engine, "max_side", DEFAULT_MAX_SIDE)
            result.frame = decode_jpeg(frame.jpeg, max_side)
        return result.frame

    def deliver(self, frame: Frame, outcome: SegResult | Exception) -> None:
        """Hand an :meth:`infer` outcome to the sink: a result, or a recoverable error."""
        if self.closed:
            return  # closed while the frame was in flight
        if not isinstance(outcome, Exception):
            try:
                # counted before the sink sends it, so a client that has the result sees it
                # in the stats (the sink adds its encode time to the same timings dict)
                self.stats.record(outcome.timings)
                self.sink.on_result(self, frame, outcome)
            except Exception as exc:
                outcome = exc
        if isinstance(outcome, Exception):
            self.stats.errors += 1
            if not isinstance(outcome, SegwidgetError):
                log.error("%s: frame %s failed", self.name, frame.seq, exc_info=outcome)
            self.sink.on_error(self, frame, outcome)
        self.maybe_emit_stats()

    def stats_snapshot(self) -> dict[str, Any]:
        stats = self.stats.snapshot()
        info = self.engine.info if self.engine else {}
        hw = self._model_hw
        stats.update(
            queue_size=self.queue_size,
            profile=self.profile,
            backend=info.get("backend"),
            device=info.get("device"),
            adapted=f"{hw[1]}x{hw[0]}" if self.adapter.adapted and hw else None,
            latency_budget_ms=self.adapter.budget_ms if self.adapter.enabled else None,
            latency_p95_ms=self.adapter.last_p95,
            adapt_reason=self.adapter.reason,
        )
        stats["slow"] = slow_note(self.profile, stats.get("inference_ms"), info.get("device"))
        cluster_stats = getattr(self.engine, "cluster_stats", None)
        if cluster_stats is not None:  # replicas running, degraded and why (RemoteEngine)
            stats["cluster"] = cluster_stats()
        return stats

    def maybe_emit_stats(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_stats >= STATS_PERIOD_S:
            self._last_stats = now
            self.sink.on_stats(self, self.stats_snapshot())

    def close(self, wait: float | None = None) -> None:
        """Stop taking frames and let go of the engine; a frame in flight finishes and is
        discarded. With ``wait``, wait up to that many seconds for it (not from a sink
        callback of this session, which returns at once)."""
        self.closed = True
        self._switch_token += 1
        self.take()
        self.scheduler.remove(self)
        self.engine = None
        if wait:
            self.scheduler.wait_idle(self, wait)


def _load_error(exc: Exception, serving: bool) -> Exception:
    """The error a failed load reports: recoverable when an engine still serves (a failed
    switch: the stream goes on with the previous profile), not when nothing does."""
    if isinstance(exc, SegwidgetError):
        err = exc
    else:
        err = SegwidgetError(f"loading the model failed: {type(exc).__name__}: {exc}")
        err.code = "MODEL_LOAD_FAILED"
    err.recoverable = serving
    return err
