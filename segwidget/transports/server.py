"""``segwidget serve``: the standalone page and the WebSocket API on FastAPI + uvicorn.

Routes: ``/`` the page (``segwidget/static/index.html``), ``/static/...`` the package's own
static files, ``/ws`` the WebSocket (the spec's JSON protocol, or the binary protocol after
``init`` with ``"binary": true``; see docs/API_REFERENCE.md), ``/healthz`` and ``/api/info``.

Each connection is a :class:`Connection`: it validates every client message, owns one
:class:`~segwidget.stream.Session` (engines are shared per profile through ``get_engine``,
the process-wide :class:`~segwidget.stream.Scheduler` serves sessions round-robin) and is the
session's :class:`~segwidget.stream.Sink`. Results are built on the scheduler's worker thread
and handed to the connection's event loop with ``call_soon_threadsafe`` into a small bounded
send queue, so a slow client never blocks the worker: a stale result waiting to be sent is
replaced by a newer one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import webbrowser
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from ..engine import LABELS, Engine, SegResult
from ..errors import FrameError, ProtocolError, SegwidgetError
from ..hardware import BACKENDS, DEVICES, choose_backend
from ..labels import COLORMAPS, PALETTES, resolve_palette
from ..preprocess import DEFAULT_MAX_SIDE, jpeg_size
from ..profiles import PROFILES, get_profile
from ..protocol import MAX_HEADER_BYTES, pack_ws, unpack_ws
from ..render import VIZ_MODES
from ..stream import Frame, Scheduler, Session, default_scheduler, error_message, result_message
from . import ready_message, security
from .messages import (
    ChangeModeMessage,
    ClientErrorMessage,
    FrameMessage,
    HelloMessage,
    InitMessage,
    UpdateVizMessage,
    VizSettings,
    parse_client_message,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_RATE_LIMIT = 100.0  # messages a second per client
MAX_OUTBOX = 64  # messages waiting to be sent to one client, all kinds together
PNG_OUTPUTS = ("composite", "mask")


# ----------------------------------------------------------------------------- config


@dataclass
class ServerConfig:
    """Everything ``segwidget serve`` is configured with (see :func:`add_arguments`)."""

    host: str = "127.0.0.1"
    port: int = 8000
    profile: str = "fast"
    weights: str = "pretrained"
    backend: str = "auto"
    device: str = "auto"
    input_size: int | None = None
    token: str | None = None  # None: no token required (loopback only)
    max_clients: int = 0  # 0: unlimited
    allow_origins: tuple[str, ...] = ()
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_side: int = DEFAULT_MAX_SIDE
    rate_limit: float = DEFAULT_RATE_LIMIT  # 0: off
    rate_limit_patience_s: float = 5.0
    pending_results: int = 2  # results waiting to be sent per client before older ones drop
    scheduler: Scheduler | None = field(default=None, repr=False)

    @property
    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``get_engine``; defaults left out so pooled engines are shared."""
        kwargs: dict[str, Any] = {"weights": self.weights}
        if self.backend != "auto":
            kwargs["backend"] = self.backend
        if self.device != "auto":
            kwargs["device"] = self.device
        if self.input_size is not None:
            kwargs["input_size"] = self.input_size
        if self.max_side > DEFAULT_MAX_SIDE:
            kwargs["max_side"] = self.max_side
        return kwargs

    @property
    def hard_max_bytes(self) -> int:
        """Messages above this are refused by the WebSocket layer (close 1009), unread.

        Between ``max_message_bytes`` and this, a message is read and answered with a
        FRAME_TOO_LARGE error, the connection staying usable.
        """
        return 2 * self.max_message_bytes + 64 * 1024


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


# ----------------------------------------------------------------------------- helpers


def _json(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _decode_base64(data: str) -> bytes:
    if data.startswith("data:"):  # canvas.toDataURL() output: data:image/jpeg;base64,....
        head, sep, data = data.partition(",")
        if not sep or not head.endswith(";base64"):
            raise ProtocolError("BAD_BASE64", "frame 'data' is a data URL without ;base64")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("BAD_BASE64", "frame 'data' is not valid base64") from None
    if not raw:
        raise ProtocolError("BAD_BASE64", "frame 'data' is empty")
    return raw


_render_pool: ThreadPoolExecutor | None = None
_render_pool_lock = threading.Lock()


def render_pool() -> ThreadPoolExecutor:
    """Threads that render and encode the spec protocol's PNGs (OpenCV and numpy release
    the GIL for most of it), shared by every connection."""
    global _render_pool
    with _render_pool_lock:
        if _render_pool is None:
            workers = max(2, min(8, os.cpu_count() or 2))
            _render_pool = ThreadPoolExecutor(workers, thread_name_prefix="segwidget-render")
        return _render_pool


_gpu_cache: dict[str, Any] = {"t": 0.0, "mb": None}


def gpu_memory_mb(device: str | None) -> float | None:
    """Memory in use on the CUDA device (all processes), refreshed at most once a second."""
    if device != "cuda":
        return None
    now = time.monotonic()
    if now - _gpu_cache["t"] < 1.0:
        return _gpu_cache["mb"]
    try:
        import torch

        free, total = torch.cuda.mem_get_info()
        mb: float | None = round((total - free) / 2**20, 1)
    except Exception:
        mb = None
    _gpu_cache.update(t=now, mb=mb)
    return mb


def connected_message(engine: Engine) -> dict[str, Any]:
    """The spec's ``connected``: ``ready``'s fields plus the spec's own.

    ``default_colormap`` is, as in the spec, an object: class name -> ``[r, g, b]`` of the
    profile's default palette; ``colormap`` names that palette.
    """
    ready = ready_message(engine)
    name = engine.profile.default_colormap
    palette = resolve_palette(name, len(engine.labels))
    return {
        **ready,
        "type": "connected",
        "status": "ready",
        "available_models": list(PROFILES),
        "class_labels": list(engine.labels),
        "colormap": name,
        "default_colormap": {label: palette[i].tolist() for i, label in enumerate(engine.labels)},
    }


# ----------------------------------------------------------------------------- viz state


@dataclass(frozen=True)
class Viz:
    """One connection's visualization settings (replaced whole, read by the worker)."""

    opacity: float = 0.6
    mode: str = "filled"
    class_filter: tuple[str, ...] = ()  # empty: every class
    colormap: str | None = None  # None: the profile's default
    custom: tuple[tuple[int, int, int], ...] = ()

    def palette(self, engine_default: str, n: int) -> Any:
        if self.colormap == "custom" and self.custom:
            return resolve_palette("custom", n, self.custom)
        if self.colormap in PALETTES:
            return resolve_palette(self.colormap, n)
        return resolve_palette(engine_default, n)

    def filter_ids(self, labels: list[str]) -> list[int] | None:
        """Class ids to show, or None for all. Names the current profile lacks are ignored;
        when none is left, every class shows (as after a profile switch in the page)."""
        if not self.class_filter:
            return None
        index = {name: i for i, name in enumerate(labels)}
        ids = [index[n] for n in self.class_filter if n in index]
        return ids or None


_ALL_LABELS = frozenset(name for labels in LABELS.values() for name in labels)


def apply_viz(viz: Viz, settings: VizSettings, labels: list[str] | None) -> Viz:
    """``viz`` updated with the fields ``settings`` sets; ProtocolError(UNKNOWN_MODE) on a bad
    name. ``labels``: the serving profile's class names, if any."""
    given = settings.model_fields_set
    changes: dict[str, Any] = {}
    if "overlay_opacity" in given and settings.overlay_opacity is not None:
        changes["opacity"] = float(settings.overlay_opacity)
    if "visualization_mode" in given and settings.visualization_mode is not None:
        if settings.visualization_mode not in VIZ_MODES:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown visualization_mode {settings.visualization_mode!r}; "
                f"expected one of {', '.join(VIZ_MODES)}",
            )
        changes["mode"] = settings.visualization_mode
    if "colormap" in given:
        if settings.colormap is not None and settings.colormap not in COLORMAPS:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown colormap {settings.colormap!r}; expected one of {', '.join(COLORMAPS)}",
            )
        changes["colormap"] = settings.colormap
    if "custom_colormap" in given:
        changes["custom"] = tuple(tuple(c) for c in settings.custom_colormap or ())
    if "class_filter" in given:
        # Names of any profile's label set are accepted (a filter may race a profile switch);
        # names the serving profile lacks are ignored when rendering (Viz.filter_ids).
        names = settings.class_filter or []
        known = _ALL_LABELS if labels is None else _ALL_LABELS | set(labels)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown class name(s) in class_filter: {', '.join(map(repr, unknown[:5]))}",
            )
        changes["class_filter"] = tuple(dict.fromkeys(names))
    return replace(viz, **changes)


# ----------------------------------------------------------------------------- connection


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
        try:
            seq = json.loads(bytes(data[4 : 4 + n])).get("seq")
        except (ValueError, AttributeError):
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
            )
            self.session.start()
        elif profile != self.session.profile or self.session.engine is None:
            self.session.switch(profile)
        else:
            self.on_ready(self.session, self.session.engine)

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
                jpeg = _decode_base64(msg.data)
            else:
                raise ProtocolError(
                    "BAD_MESSAGE", "a frame needs its JPEG: base64 'data' or binary buffer 0"
                )
            jpeg_size(jpeg, self.config.max_side)
        except SegwidgetError as exc:
            self._post_error(exc, seq=seq, timestamp=msg.timestamp)
            return
        client = {k: v for k, v in (msg.client or {}).items() if v is not None}
        feedback = {k: v for k, v in (msg.feedback or {}).items() if v is not None}
        t_capture = msg.t_capture if msg.t_capture is not None else msg.timestamp
        frame = Frame(seq=seq, jpeg=jpeg, t_capture=t_capture, client=client, feedback=feedback)
        session.submit(frame)

    # -- sink (worker and loader threads) ----------------------------------------------------
    def on_result(self, session: Session, frame: Frame, result: SegResult) -> None:
        if self.closed:
            return
        if self.binary:  # a deflate of the mask: cheap, done here
            header, buffers = result_message(frame, result, self.mask_encoding)
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
                    self._post("result", _json(self._segmentation(*job)))
                except Exception as exc:
                    log.exception("%s: rendering frame %s failed", self.name, job[1].seq)
                    self._post_error(exc, seq=job[1].seq, timestamp=job[1].t_capture)
            with self._render_lock:
                job, self._render_next = self._render_next, None
                if job is None:
                    self._render_busy = False

    def _segmentation(self, session: Session, frame: Frame, result: SegResult) -> dict[str, Any]:
        from ..render import colorized_png, encode_png, render_overlay

        t0 = time.perf_counter()
        viz = self.viz
        labels = result.labels
        engine = session.engine
        default = engine.profile.default_colormap if engine else "voc"
        palette = viz.palette(default, len(labels))
        ids = viz.filter_ids(labels)
        if self.png_output == "mask":
            png = colorized_png(result.mask, palette, ids)
            h, w = result.mask.shape
        else:
            image = render_overlay(result.frame, result.mask, palette, viz.mode, viz.opacity, ids)
            png = encode_png(image)
            h, w = image.shape[:2]
        result.timings["encode"] = (time.perf_counter() - t0) * 1000
        timings = {k: round(v, 3) for k, v in result.timings.items()}
        return {
            "type": "segmentation",
            "timestamp": frame.t_capture,
            "data": base64.b64encode(png).decode("ascii"),
            "metadata": {
                "inference_time_ms": round(result.timings.get("inference", 0.0), 2),
                "model_mode": result.profile,
                "detected_classes": [labels[i] for i, _ in result.class_ids],
                "fps": session.stats.snapshot()["fps"],
                "seq": frame.seq,
                "width": w,
                "height": h,
                "output": self.png_output,
                "visualization_mode": viz.mode if self.png_output == "composite" else None,
                "classes": [[labels[i], round(f, 5)] for i, f in result.class_ids],
                "timings": timings,
                "server_ms": round(sum(result.timings.values()), 3),
            },
        }

    def on_error(self, session: Session, frame: Frame | None, error: Exception) -> None:
        if self.closed:
            return
        seq = frame.seq if frame is not None else None
        self._post_error(error, seq=seq, timestamp=frame.t_capture if frame else None)

    def on_stats(self, session: Session, stats: dict[str, Any]) -> None:
        if self.closed:
            return
        gpu = gpu_memory_mb(stats.get("device"))
        stats = {**stats, "gpu_memory_mb": gpu, "results_dropped": self.results_dropped}
        self._post(
            "stats",
            _json(
                {
                    "type": "stats",
                    "fps": stats["fps"],
                    "avg_inference_ms": stats["inference_ms"],
                    "gpu_memory_mb": gpu,
                    "queue_size": stats["queue_size"],
                    "stats": stats,
                }
            ),
        )

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


# ----------------------------------------------------------------------------- app


def _token_ok(state: ServerState, query: Any, headers: Any) -> bool:
    return security.token_matches(state.config.token, security.token_from(query, headers))


def _host_ok(state: ServerState, host_header: str | None) -> bool:
    """Without a token, only loopback Host headers (DNS rebinding); with one, any."""
    return state.config.token is not None or security.host_is_loopback(host_header)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the URL carries the token
    "Cache-Control": "no-store",
}


def _forbidden(text: str) -> Response:
    return PlainTextResponse(text, status_code=403, headers=SECURITY_HEADERS)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI app serving the page, the static files, ``/ws`` and the two JSON routes."""
    from .. import __version__

    config = config or ServerConfig()
    state = ServerState(config)
    app = FastAPI(
        title="segwidget", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.segwidget = state
    app.mount(
        "/static",
        StaticFiles(directory=STATIC_DIR, check_dir=False, follow_symlink=False),
        name="static",
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "clients": state.clients})

    @app.get("/")
    async def index(request: Request) -> Response:
        if not _host_ok(state, request.headers.get("host")):
            return _forbidden("Host not allowed")
        if not _token_ok(state, request.query_params, request.headers):
            return _forbidden(
                "Invalid or missing token. Open the URL that `segwidget serve` printed "
                "(it ends in ?token=...)."
            )
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            return PlainTextResponse(
                "The page is not built: segwidget/static/index.html is missing "
                "(run `npm run build`).",
                status_code=503,
            )
        return FileResponse(page, media_type="text/html", headers=SECURITY_HEADERS)

    @app.get("/api/info")
    async def info(request: Request) -> Response:
        if not _host_ok(state, request.headers.get("host")):
            return _forbidden("Host not allowed")
        if not _token_ok(state, request.query_params, request.headers):
            return _forbidden("Invalid or missing token")
        return JSONResponse(server_info(state), headers={"Cache-Control": "no-store"})

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        headers = websocket.headers
        reason = None
        if not _host_ok(state, headers.get("host")):
            reason = "Host not allowed"
        elif not _token_ok(state, websocket.query_params, headers):
            reason = "Invalid or missing token"
        elif not security.origin_allowed(
            headers.get("origin"), headers.get("host"), state.allow_origins
        ):
            reason = (
                f"Origin {headers.get('origin')!r} is not allowed "
                "(it must match the server's host, or be given with --allow-origin)"
            )
        if reason is not None:
            log.warning("refused a WebSocket: %s", reason)
            await _deny(websocket, reason)
            return
        await websocket.accept()
        if not state.try_acquire():
            limit = config.max_clients
            await websocket.close(
                code=1013, reason=f"server full: {limit} clients (--max-clients); retry later"
            )
            return
        conn = Connection(websocket, state, asyncio.get_running_loop())
        state.connections.add(conn)
        try:
            await conn.run()
        finally:
            state.connections.discard(conn)
            state.release()

    return app


async def _deny(websocket: WebSocket, reason: str) -> None:
    """Refuse a handshake with HTTP 403 (or close 1008 where the server cannot send one)."""
    try:
        await websocket.send_denial_response(_forbidden(reason))
    except RuntimeError:
        await websocket.close(code=1008, reason=reason[:120])


def server_info(state: ServerState) -> dict[str, Any]:
    from .. import __version__

    config = state.config
    try:
        choice = choose_backend(config.backend, config.device)
        planned = {
            "backend": choice.backend,
            "device": choice.device,
            "precision": choice.precision,
            "reason": choice.reason,
        }
    except SegwidgetError as exc:
        planned = {"error": str(exc)}
    default = state.engines.get(config.profile, {})
    return {
        "version": __version__,
        "profile": config.profile,
        "weights": str(config.weights),
        "backend": default.get("backend", planned.get("backend")),
        "device": default.get("device", planned.get("device")),
        "backend_choice": planned,
        "profiles": {
            name: {
                "model": p.model,
                "description": p.description,
                "dataset": p.dataset,
                "num_classes": p.num_classes,
                "default_colormap": p.default_colormap,
                "loaded": state.engines.get(name),
            }
            for name, p in PROFILES.items()
        },
        "labels": {name: list(labels) for name, labels in LABELS.items()},
        "colormaps": list(COLORMAPS),
        "viz_modes": list(VIZ_MODES),
        "limits": {
            "max_message_bytes": config.max_message_bytes,
            "max_side": config.max_side,
            "rate_limit": config.rate_limit,
            "max_clients": config.max_clients or None,
        },
        "clients": state.clients,
        "token_required": config.token is not None,
    }


# ----------------------------------------------------------------------------- running


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the real port is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(
    app: FastAPI, config: ServerConfig, log_level: str = "warning", own_logging: bool = True
):
    """uvicorn settings. ``own_logging=False`` leaves the host process's logging alone
    (notebooks, tests): uvicorn's loggers then propagate to the root logger."""
    import uvicorn

    kwargs: dict[str, Any] = {} if own_logging else {"log_config": None}
    return uvicorn.Config(
        app,
        **kwargs,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        ws_max_size=config.hard_max_bytes,
        ws_per_message_deflate=False,  # JPEG, deflate masks and PNG do not compress further
        timeout_graceful_shutdown=3,
    )


class BackgroundServer:
    """The server on a thread of this process (tests, benchmarks, notebooks, Colab).

    ``port=0`` binds a free port; :attr:`url` is known as soon as the object exists.
    """

    def __init__(self, config: ServerConfig, app: FastAPI | None = None, log_level="warning"):
        import uvicorn

        self.config = config
        self.app = app or create_app(config)
        self.sock = bind_socket(config.host, config.port)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(self.app, config, log_level, own_logging=False))
        self.thread: threading.Thread | None = None

    @property
    def state(self) -> ServerState:
        return self.app.state.segwidget

    @property
    def base_url(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The page URL, with the token."""
        token = self.config.token
        return f"{self.base_url}/" + (f"?token={token}" if token else "")

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name="segwidget-server",
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the segwidget server stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("the segwidget server did not start")
            self.thread.join(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``segwidget serve`` options."""
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: a free one)")
    parser.add_argument("--profile", default="fast", choices=list(PROFILES), help="default profile")
    parser.add_argument("--weights", default="pretrained", help="pretrained, random or a path")
    parser.add_argument("--backend", default="auto", choices=list(BACKENDS))
    parser.add_argument("--device", default="auto", choices=list(DEVICES))
    parser.add_argument("--input-size", type=int, help="model long side (default: profile's)")
    parser.add_argument(
        "--token",
        default="auto",
        metavar="auto|none|VALUE",
        help="access token: auto generates one (default); none is only allowed on loopback",
    )
    parser.add_argument(
        "--max-clients", type=int, default=0, metavar="N", help="refuse more clients (0: no limit)"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept WebSockets from this origin (scheme://host[:port], or '*'); repeatable",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="BYTES",
        help="largest client message (default: 8 MiB)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        metavar="PX",
        help=f"largest frame side in pixels (default: {DEFAULT_MAX_SIDE})",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=DEFAULT_RATE_LIMIT,
        metavar="N",
        help="messages a second per client (0: no limit)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument(
        "--ngrok", action="store_true", help="public URL through ngrok (pip install pyngrok)"
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A ServerConfig from parsed ``serve`` options; ValueError with a clear message if bad."""
    get_profile(args.profile)
    if args.max_message_bytes < 1024:
        raise ValueError("--max-message-bytes must be at least 1024")
    if args.max_side < 32:
        raise ValueError("--max-side must be at least 32")
    if args.max_clients < 0 or args.rate_limit < 0:
        raise ValueError("--max-clients and --rate-limit must not be negative")
    token = security.resolve_token(args.token, args.host, tunnel=args.ngrok)
    origins = tuple(security.normalize_origin(o) for o in args.allow_origin)
    return ServerConfig(
        host=args.host,
        port=args.port,
        profile=args.profile,
        weights=args.weights,
        backend=args.backend,
        device=args.device,
        input_size=args.input_size,
        token=token,
        max_clients=args.max_clients,
        allow_origins=origins,
        max_message_bytes=args.max_message_bytes,
        max_side=args.max_side,
        rate_limit=args.rate_limit,
    )


def _display_urls(config: ServerConfig, port: int) -> list[str]:
    host = config.host
    hosts = [host]
    if host in ("0.0.0.0", "::", ""):
        hosts = [socket.gethostname(), "127.0.0.1"]
    suffix = f"/?token={config.token}" if config.token else "/"
    return [f"http://{f'[{h}]' if ':' in h else h}:{port}{suffix}" for h in hosts]


def _in_colab() -> bool:
    from ..colab import in_colab

    return in_colab()


def run(args: argparse.Namespace) -> int:
    """``segwidget serve``: load the default profile, serve until Ctrl-C. Returns the exit code."""
    import uvicorn

    from ..engine import get_engine

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"segwidget serve: {exc}", file=sys.stderr)
        return 2
    print(f"Loading the {config.profile!r} profile ...", flush=True)
    try:
        engine = get_engine(config.profile, **config.engine_kwargs)
    except SegwidgetError as exc:
        print(f"segwidget serve: {exc}", file=sys.stderr)
        return 1
    info = engine.info
    print(
        f"  {info['model']} on {info['backend']} / {info['device']} ({info['precision']}), "
        f"weights: {info['weights']}",
        flush=True,
    )
    app = create_app(config)
    app.state.segwidget.engines[config.profile] = dict(info)
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as exc:
        print(f"segwidget serve: cannot listen on {config.host}:{config.port}: {exc}")
        return 1
    port = sock.getsockname()[1]
    urls = _display_urls(config, port)
    public = None
    if args.ngrok:
        from ..colab import origin_of, start_ngrok

        try:
            public = start_ngrok(port)
        except Exception as exc:
            print(f"segwidget serve: --ngrok failed: {exc}", file=sys.stderr)
            sock.close()
            return 1
        app.state.segwidget.allow_origins.add(origin_of(public))
        urls.insert(0, public + (f"/?token={config.token}" if config.token else "/"))
    print("\nsegwidget is serving the page at:", flush=True)
    for url in urls:
        print(f"    {url}", flush=True)
    if config.token is None:
        print("(no token: anyone on this machine can connect)")
    if public is None and _in_colab():
        print(
            "In Colab, open the page through Colab's proxy instead: run "
            "`from segwidget.colab import serve; serve()` in a cell, or use --ngrok."
        )
    print("Press Ctrl-C to stop.\n", flush=True)
    if args.open:
        webbrowser.open(urls[-1] if public is None else urls[0])
    server = uvicorn.Server(uvicorn_config(app, config, args.log_level))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if public:
            from ..colab import stop_ngrok

            stop_ngrok(public)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segwidget.transports.server")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
