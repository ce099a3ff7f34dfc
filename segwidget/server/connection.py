"""One ``/ws`` client (:class:`Connection`) and what connections share (:class:`ServerState`).

A connection admits each message (rate and size limits), parses it
(:mod:`segwidget.transports.messages`), owns one :class:`~segwidget.stream.Session`
(engines are shared per profile through ``get_engine``; the process-wide
:class:`~segwidget.scheduler.Scheduler` serves sessions round-robin) and is the session's
:class:`~segwidget.stream.Sink`. Results are built on the scheduler's worker thread (the
spec protocol's PNGs on :func:`~segwidget.server.spec.render_pool`) and handed to the
connection's event loop with ``call_soon_threadsafe`` into a small bounded send queue, so a
slow client never blocks the worker: a stale result waiting to be sent is replaced by a
newer one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ..adapt import DEFAULT_BUDGET_MS
from ..effects import EFFECT_MODES
from ..engine import Engine, SegResult
from ..errors import FrameError, ProtocolError, SegwidgetError
from ..framing import attach_pixels
from ..preprocess import jpeg_size
from ..profiles import PROFILES
from ..protocol import MAX_HEADER_BYTES, pack_ws, parse_json, unpack_ws
from ..scheduler import default_scheduler
from ..stream import Frame, Session, error_message, result_message
from ..transports import ready_message, security
from ..transports.messages import (
    ChangeModeMessage,
    ClientErrorMessage,
    FrameMessage,
    HelloMessage,
    InitMessage,
    OptionsMessage,
    UpdateVizMessage,
    VizSettings,
    parse_client_message,
)
from .config import ServerConfig
from .spec import (
    Viz,
    apply_viz,
    connected_message,
    decode_base64,
    render_pool,
    segmentation_message,
    stats_message,
)

log = logging.getLogger(__name__)

MAX_OUTBOX = 64  # messages waiting to be sent to one client, all kinds together


class ServerState:
    """What the app shares between connections."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.scheduler = config.scheduler or default_scheduler()
        self.allow_origins = {security.normalize_origin(o) for o in config.allow_origins}
        self.connections: set[Connection] = set()
        self.clients = 0  # accepted sockets holding a client slot
        self.engines: dict[str, dict[str, Any]] = {}  # profile -> engine.info, once served
        self.started = time.time()

    def try_acquire(self) -> bool:
        """Take a client slot (called on the event loop: no await between check and take)."""
        limit = self.config.max_clients
        if limit and self.clients >= limit:
            return False
        self.clients += 1
        return True

    def release(self) -> None:
        self.clients -= 1


def _json(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


class Connection:
    """One ``/ws`` client: validates its messages, owns its Session, sends its results."""

    def __init__(self, ws: WebSocket, state: ServerState, loop: asyncio.AbstractEventLoop):
        self.ws = ws
        self.state = state
        self.config = state.config
        self.loop = loop
        self.session: Session | None = None
        self.binary = False
        self.mask_encoding = "deflate"
        self.png_output = "composite"
        self.viz = Viz()
        self.closed = False
        self._closing = False
        self.rate = security.RateLimiter(
            self.config.rate_limit, patience_s=self.config.rate_limit_patience_s
        )
        self._outbox: collections.deque[tuple[str, Any]] = collections.deque()
        self._wake = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._next_seq = 0
        self._render_lock = threading.Lock()
        self._render_busy = False
        self._render_next: tuple[Session, Frame, SegResult] | None = None
        self.results_dropped = 0
        self.messages = 0
        client = ws.client
        self.name = f"ws {client.host}:{client.port}" if client else "ws"

    # -- receive side (event loop) -----------------------------------------------------------
    async def run(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"{self.name} sender")
        try:
            while not self.closed:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes")
                if data is None:
                    continue
                verdict = self._admit(data)
                if verdict == "close":
                    break
                if verdict == "ok":
                    self._handle(data)
        except WebSocketDisconnect:
            pass
        finally:
            await self._shutdown()

    def _admit(self, data: str | bytes) -> str:
        """Rate and size limits: "ok" to handle, "drop" to ignore, "close" to hang up."""
        self.messages += 1
        if not self.rate.allow():
            if self.rate.exhausted:
                log.warning("%s: closing, over the rate limit for too long", self.name)
                self._post_error(
                    ProtocolError("RATE_LIMITED", "too many messages for too long; closing"),
                    recoverable=False,
                )
                self._close_after_flush(1008, "rate limit exceeded")
                return "close"
            if self.rate.should_warn():
                self._post_error(
                    ProtocolError(
                        "RATE_LIMITED",
                        f"more than {self.config.rate_limit:g} messages a second; "
                        "messages are being dropped",
                    )
                )
            return "drop"
        size = len(data)
        if size > self.config.max_message_bytes:
            self._post_error(
                FrameError(
                    f"message is {size} bytes; the limit is {self.config.max_message_bytes}",
                    code="FRAME_TOO_LARGE",
                ),
                seq=self._peek_seq(data),
            )
            return "drop"
        return "ok"

    @staticmethod
    def _peek_seq(data: str | bytes) -> int | None:
        """The ``seq`` of an oversized binary frame, so the client can retire it."""
        if not isinstance(data, bytes | bytearray) or len(data) < 4:
            return None
        n = int.from_bytes(data[:4], "big")
        if n > MAX_HEADER_BYTES:
            return None
        try:  # parse_json: json.loads raises RecursionError on deep nesting (fuzzing)
            seq = parse_json(bytes(data[4 : 4 + n])).get("seq")
        except (ProtocolError, AttributeError):
            return None
        return seq if isinstance(seq, int) and not isinstance(seq, bool) else None

    def _handle(self, data: str | bytes) -> None:
        seq = None
        try:
            header, buffers = unpack_ws(data)
            if isinstance(header.get("seq"), int):
                seq = header["seq"]
            msg = parse_client_message(header)
            if isinstance(msg, FrameMessage):
                self._on_frame(msg, buffers)
            elif isinstance(msg, InitMessage):
                self._on_init(msg)
            elif isinstance(msg, ChangeModeMessage):
                self._on_change_mode(msg.model_mode)
            elif isinstance(msg, UpdateVizMessage):
                self._on_update_viz(msg.settings)
            elif isinstance(msg, HelloMessage):
                self._on_hello()
            elif isinstance(msg, OptionsMessage):
                if self.session is not None:
                    self.session.apply_options(msg.model_dump(exclude_none=True))
            elif isinstance(msg, ClientErrorMessage) and msg.code:
                log.info("%s: client error %s: %s", self.name, msg.code, msg.message)
        except SegwidgetError as exc:
            self._post_error(exc, seq=seq)
        except Exception as exc:  # a bug here must not kill the connection
            log.exception("%s: handling a message failed", self.name)
            self._post_error(ProtocolError("BAD_MESSAGE", f"{type(exc).__name__}: {exc}"), seq=seq)

    def _check_profile(self, name: str) -> str:
        if name not in PROFILES:
            expected = ", ".join(PROFILES)
            raise ProtocolError(
                "UNKNOWN_MODE", f"unknown model_mode {name!r}; expected one of {expected}"
            )
        return name

    def _on_init(self, msg: InitMessage) -> None:
        cfg = msg.config
        profile = self._check_profile(cfg.model_mode or self.config.profile)
        viz = self.viz
        if cfg.viz is not None:
            viz = apply_viz(viz, cfg.viz, self._labels())
        self.binary = cfg.binary
        self.mask_encoding = cfg.mask_encoding
        self.png_output = cfg.png
        self.viz = viz
        if self.session is None:
            self.session = Session(
                self,
                self.state.scheduler,
                profile=profile,
                engine_kwargs=self.config.engine_kwargs,
                name=self.name,
                latency_budget_ms=cfg.latency_budget_ms or DEFAULT_BUDGET_MS,
                adapt=cfg.adapt is not False,
            )
            self.session.confidence_needed = self._effect_pngs
            self.session.start()
        else:
            self.session.configure_adapt(cfg.latency_budget_ms, cfg.adapt)
            if profile != self.session.profile or self.session.engine is None:
                self.session.switch(profile)
            else:
                self.on_ready(self.session, self.session.engine)

    def _effect_pngs(self) -> bool:
        """Whether the spec protocol's composite PNGs draw an effect (they use the confidence)."""
        return not self.binary and self.png_output == "composite" and self.viz.mode in EFFECT_MODES

    def _require_session(self) -> Session:
        if self.session is None:
            raise ProtocolError("NOT_INITIALIZED", "send 'init' first")
        return self.session

    def _on_change_mode(self, profile: str) -> None:
        session = self._require_session()
        session.switch(self._check_profile(profile))

    def _labels(self) -> list[str] | None:
        engine = self.session.engine if self.session else None
        return list(engine.labels) if engine else None

    def _on_update_viz(self, settings: VizSettings) -> None:
        self.viz = apply_viz(self.viz, settings, self._labels())

    def _on_hello(self) -> None:
        session = self._require_session()
        if session.engine is not None:
            self.on_ready(session, session.engine)

    def _on_frame(self, msg: FrameMessage, buffers: list[bytes]) -> None:
        session = self._require_session()
        seq = msg.seq
        if seq is None:
            seq = self._next_seq
        self._next_seq = seq + 1
        try:
            if buffers:
                jpeg = buffers[0]
            elif msg.data is not None:
                jpeg = decode_base64(msg.data)
            else:
                raise ProtocolError(
                    "BAD_MESSAGE", "a frame needs its JPEG: base64 'data' or binary buffer 0"
                )
            if msg.encoding != "i420":
                jpeg_size(jpeg, self.config.max_side)
            client = {k: v for k, v in (msg.client or {}).items() if v is not None}
            feedback = {k: v for k, v in (msg.feedback or {}).items() if v is not None}
            t_capture = msg.t_capture if msg.t_capture is not None else msg.timestamp
            frame = Frame(seq=seq, t_capture=t_capture, client=client, feedback=feedback)
            pixels = {"encoding": msg.encoding or "jpeg", "mask_encoding": msg.mask_encoding}
            pixels.update(width=msg.width, height=msg.height)
            attach_pixels(frame, pixels, jpeg, self.config.max_side)
        except SegwidgetError as exc:
            self._post_error(exc, seq=seq, timestamp=msg.timestamp)
            return
        session.submit(frame)

    # -- sink (worker and loader threads) ----------------------------------------------------
    def on_result(self, session: Session, frame: Frame, result: SegResult) -> None:
        if self.closed:
            return
        if self.binary:  # a deflate of the mask: cheap, done here
            header, buffers = result_message(
                frame, result, self.mask_encoding, confidence=session.want_confidence
            )
            header["fps"] = session.stats.snapshot()["fps"]
            self._post("result", pack_ws(header, buffers))
            return
        # The composite PNG takes longer than a small model's inference (640x480: about 4 ms
        # to render, 10+ ms to encode), so it is made on the render pool while the worker
        # goes on with the next frame. One render at a time per connection keeps results in
        # order; a result waiting for its turn is replaced by a newer one (stale, dropped).
        with self._render_lock:
            if self._render_busy:
                if self._render_next is not None:
                    self.results_dropped += 1
                self._render_next = (session, frame, result)
                return
            self._render_busy = True
        try:
            render_pool().submit(self._render_loop, session, frame, result)
        except RuntimeError:  # the pool is shut down: the interpreter is exiting
            with self._render_lock:
                self._render_busy = False

    def _render_loop(self, session: Session, frame: Frame, result: SegResult) -> None:
        job: tuple[Session, Frame, SegResult] | None = (session, frame, result)
        while job is not None:
            if not self.closed:
                try:
                    self._post(
                        "result", _json(segmentation_message(self.viz, self.png_output, *job))
                    )
                except Exception as exc:
                    log.exception("%s: rendering frame %s failed", self.name, job[1].seq)
                    self._post_error(exc, seq=job[1].seq, timestamp=job[1].t_capture)
            with self._render_lock:
                job, self._render_next = self._render_next, None
                if job is None:
                    self._render_busy = False

    def on_error(self, session: Session, frame: Frame | None, error: Exception) -> None:
        if self.closed:
            return
        seq = frame.seq if frame is not None else None
        self._post_error(error, seq=seq, timestamp=frame.t_capture if frame else None)

    def on_stats(self, session: Session, stats: dict[str, Any]) -> None:
        if self.closed:
            return
        self._post("stats", _json(stats_message(stats, self.results_dropped)))

    def on_ready(self, session: Session, engine: Engine) -> None:
        self.state.engines[engine.profile.name] = dict(engine.info)
        if self.closed:
            return
        msg = ready_message(engine) if self.binary else connected_message(engine)
        self._post("control", _json(msg))

    def on_loading(self, session: Session, profile: str) -> None:
        if not self.closed:
            self._post("control", _json({"type": "loading", "profile": profile}))

    # -- send side ---------------------------------------------------------------------------
    def _post_error(
        self,
        error: Exception,
        seq: int | None = None,
        timestamp: float | None = None,
        recoverable: bool | None = None,
    ) -> None:
        msg = error_message(error, seq)
        if recoverable is not None:
            msg["recoverable"] = recoverable
        if timestamp is not None and not self.binary:
            msg["timestamp"] = timestamp
        self._post("error", _json(msg))

    def _post(self, kind: str, payload: Any) -> None:
        """Queue a message from any thread; never blocks, never raises."""
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # no loop in this thread: the worker or a loader
            on_loop = False
        if on_loop:
            self._enqueue(kind, payload)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
            self.loop.call_soon_threadsafe(self._enqueue, kind, payload)

    def _enqueue(self, kind: str, payload: Any) -> None:
        if self.closed:
            return
        out = self._outbox
        if kind in ("result", "stats"):
            limit = self.config.pending_results if kind == "result" else 1
            same = [i for i, (k, _) in enumerate(out) if k == kind]
            while len(same) >= limit:
                del out[same.pop(0)]
                same = [i - 1 for i in same]
                if kind == "result":
                    self.results_dropped += 1
        while len(out) >= MAX_OUTBOX:  # only errors and control messages can pile up so
            victim = next((i for i, (k, _) in enumerate(out) if k in ("error", "stats")), 0)
            del out[victim]
        out.append((kind, payload))
        self._wake.set()

    def _close_after_flush(self, code: int, reason: str) -> None:
        self._closing = True
        self._outbox.append(("close", (code, reason)))
        self._wake.set()

    async def _send_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    kind, payload = self._outbox.popleft()
                    if kind == "close":
                        code, reason = payload
                        self.closed = True
                        await ws.close(code=code, reason=reason)
                        return
                    if isinstance(payload, bytes):
                        await ws.send_bytes(payload)
                    else:
                        await ws.send_text(payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client went away mid-send
            log.debug("%s: send failed: %s", self.name, exc)
            self.closed = True

    async def _shutdown(self) -> None:
        if self.session is not None:
            self.session.close()
        sender = self._sender
        if sender is not None and not sender.done():
            if self._closing:
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(sender), timeout=5.0)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        self.closed = True
        self._outbox.clear()
