"""Jupyter Server extension: TCP_NODELAY on kernel WebSockets (design decision 12).

Jupyter Server's kernel WebSocket leaves Nagle's algorithm on. A small kernel-to-browser
message sent while an earlier one is still unacknowledged then waits for the browser's
delayed ACK, about 40 ms: a stream of small ``result`` messages gets that much latency.
This extension makes every kernel WebSocket ``set_nodelay(True)`` when it opens.

It is enabled by ``etc/jupyter/jupyter_server_config.d/segwidget.json``, which the wheel
installs, so ``pip install segwidget`` is all a user does (``jupyter server extension list``
shows it). By hand: ``jupyter server extension enable segwidget.jupyter_nodelay``, or
``--ServerApp.jpserver_extensions="{'segwidget.jupyter_nodelay': True}"``.

``GET /segwidget/nodelay`` (authenticated) reports whether it is active and the TCP_NODELAY
option read back from each open kernel WebSocket's socket.

This module imports nothing heavy: a Jupyter Server loads it at start-up.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import weakref
from typing import Any

log = logging.getLogger(__name__)

STATUS_PATH = "/segwidget/nodelay"
_MARK = "_segwidget_nodelay"
_handlers: weakref.WeakSet[Any] = weakref.WeakSet()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "segwidget.jupyter_nodelay"}]


def patch_kernel_websocket() -> bool:
    """Make ``KernelWebsocketHandler.open`` set TCP_NODELAY first. Idempotent.

    Returns False when this Jupyter Server has no such handler (nothing to patch).
    """
    try:
        from jupyter_server.services.kernels.websocket import KernelWebsocketHandler
    except ImportError:  # pragma: no cover - jupyter_server < 2
        return False
    original = KernelWebsocketHandler.open
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    async def open(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            self.set_nodelay(True)
            _handlers.add(self)
        except Exception:  # the stream may already be closing; never break the kernel
            log.debug("segwidget: set_nodelay failed", exc_info=True)
        return await original(self, *args, **kwargs)

    setattr(open, _MARK, True)
    KernelWebsocketHandler.open = open
    return True


def socket_nodelay(handler: Any) -> bool | None:
    """TCP_NODELAY as the kernel reports it for a WebSocket handler's socket (None: unknown)."""
    try:
        sock = handler.ws_connection.stream.socket
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except Exception:
        return None


def status() -> dict[str, Any]:
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    sockets = []
    for handler in list(_handlers):
        if handler.ws_connection is None or handler.ws_connection.is_closing():
            continue
        sockets.append(
            {
                "kernel_id": getattr(handler, "kernel_id", None),
                "tcp_nodelay": socket_nodelay(handler),
            }
        )
    return {
        "extension": __name__,
        "active": bool(getattr(KernelWebsocketHandler.open, _MARK, False)),
        "kernel_websockets": sockets,
    }


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class StatusHandler(JupyterHandler):
        @web.authenticated
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(status()))

    patched = patch_kernel_websocket()
    base = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, STATUS_PATH), StatusHandler)])
    serverapp.log.info(
        "segwidget: TCP_NODELAY on kernel WebSockets %s", "enabled" if patched else "unavailable"
    )


# Jupyter Server 1.x / notebook-shim name.
load_jupyter_server_extension = _load_jupyter_server_extension
