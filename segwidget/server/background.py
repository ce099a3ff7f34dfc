"""The server on a thread of this process (:class:`BackgroundServer`), and the socket and
uvicorn settings it shares with ``segwidget serve``."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from fastapi import FastAPI

from .app import create_app
from .config import ServerConfig
from .connection import ServerState


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
