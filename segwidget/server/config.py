"""The server's configuration: :class:`ServerConfig` and the ``segwidget serve`` options."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from ..cluster.connect import cluster_from_env
from ..hardware import BACKENDS, DEVICES
from ..preprocess import DEFAULT_MAX_SIDE
from ..profiles import PROFILES, get_profile
from ..scheduler import Scheduler
from ..transports import security

DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_RATE_LIMIT = 100.0  # messages a second per client


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
    cluster: str | None = None  # Ray Serve model tier (docs/SCALING.md); None: this process
    scheduler: Scheduler | None = field(default=None, repr=False)

    @property
    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``load_engine``; defaults left out so pooled engines are shared."""
        kwargs: dict[str, Any] = {"weights": self.weights}
        if self.backend != "auto":
            kwargs["backend"] = self.backend
        if self.device != "auto":
            kwargs["device"] = self.device
        if self.input_size is not None:
            kwargs["input_size"] = self.input_size
        if self.max_side > DEFAULT_MAX_SIDE:
            kwargs["max_side"] = self.max_side
        if self.cluster:
            kwargs["cluster"] = self.cluster
        return kwargs

    @property
    def hard_max_bytes(self) -> int:
        """Messages above this are refused by the WebSocket layer (close 1009), unread.

        Between ``max_message_bytes`` and this, a message is read and answered with a
        FRAME_TOO_LARGE error, the connection staying usable.
        """
        return 2 * self.max_message_bytes + 64 * 1024


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
    parser.add_argument(
        "--cluster",
        default=None,
        metavar="ADDR",
        help="run the models on a Ray Serve cluster (auto, HOST:6379 or ray://HOST:10001; "
        "default: $SEGWIDGET_CLUSTER, else this process); deploy it with `segwidget cluster "
        "deploy`, see docs/SCALING.md",
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
        cluster=cluster_from_env(getattr(args, "cluster", None)),
        rate_limit=args.rate_limit,
    )
