"""The FastAPI app: the page, the package's static files, ``/ws``, ``/healthz``, ``/api/info``.

Every route but ``/healthz`` checks the token and the Host header, and ``/ws`` the Origin too
(:mod:`segwidget.transports.security`, design decision 9); an accepted socket takes a
client slot and becomes a :class:`~segwidget.server.connection.Connection`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..engine import LABELS
from ..errors import SegwidgetError
from ..hardware import choose_backend
from ..labels import COLORMAPS
from ..profiles import PROFILES
from ..render import VIZ_MODES
from ..transports import security
from .config import ServerConfig
from .connection import Connection, ServerState

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


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
