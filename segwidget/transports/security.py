"""Access control for ``segwidget serve``: token, Origin and Host checks, per-client rate limit.

* **Token.** Like Jupyter: ``--token auto`` generates one and prints the URL carrying it; the
  page and the socket take it as ``?token=`` (or an ``Authorization: token ...`` header) and it
  is compared in constant time. ``--token none`` is only allowed on a loopback host without a
  tunnel.
* **Origin.** Browsers send ``Origin`` on every WebSocket handshake and ignore the same-origin
  policy for WebSockets, so the server checks it itself (cross-site WebSocket hijacking): it
  must name the host the request was sent to, or be listed with ``--allow-origin``. Clients
  that send no ``Origin`` are not browsers and are let through (they still need the token).
* **Host.** Without a token, a loopback server also requires a loopback ``Host`` header, which
  defeats DNS rebinding (an attacker's name resolving to 127.0.0.1 has a matching Origin).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (with or without brackets)."""
    host = host.strip().lower().strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(value: str, host: str, tunnel: bool = False) -> str | None:
    """The token the server requires, from ``--token auto|none|VALUE``; None means none.

    Raises ValueError when ``none`` is asked for where a token is required: a host other than
    loopback, or a public tunnel (``--ngrok``), whose connections arrive from loopback.
    """
    if value == "auto":
        return secrets.token_hex(24)
    if value == "none":
        if not is_loopback(host) or tunnel:
            where = "with --ngrok" if tunnel else f"on host {host!r}"
            raise ValueError(
                f"--token none is only allowed on a loopback host; {where} a token is required "
                "(use --token auto or --token VALUE)"
            )
        return None
    if len(value) < 8:
        raise ValueError("a --token VALUE must be at least 8 characters long")
    return value


def token_matches(expected: str | None, provided: str | None) -> bool:
    """Constant-time comparison; everything matches when no token is required."""
    if expected is None:
        return True
    if not provided:
        return False
    return hmac.compare_digest(expected.encode(), provided.encode())


def token_from(query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The token a request carries: ``?token=`` or ``Authorization: token|Bearer VALUE``."""
    if query.get("token"):
        return query["token"]
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


def _netloc(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.netloc.lower()


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, as browsers send it; ValueError if not one."""
    if origin == "*":
        return origin
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"--allow-origin takes scheme://host[:port] or '*', got {origin!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(origin: str | None, host_header: str | None, allowed: Iterable[str]) -> bool:
    """Whether a WebSocket handshake's ``Origin`` may connect.

    No ``Origin``: not a browser, allowed. Otherwise the Origin's ``host[:port]`` must equal
    the ``Host`` header (same origin; the scheme may differ behind a TLS-terminating proxy), or
    the whole origin must be in ``allowed`` (``"*"`` allows every origin).
    """
    if origin is None:
        return True
    allowed = set(allowed)
    if "*" in allowed or origin.lower().rstrip("/") in allowed:
        return True
    netloc = _netloc(origin)
    return netloc is not None and host_header is not None and netloc == host_header.lower()


def host_is_loopback(host_header: str | None) -> bool:
    """Whether a ``Host`` header names a loopback host (any port)."""
    if not host_header:
        return False
    host = host_header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return is_loopback(host)


class RateLimiter:
    """Token bucket per client: ``rate`` messages a second, bursts up to ``burst``.

    :meth:`allow` says whether a message may be handled. A client over the limit gets a
    ``RATE_LIMITED`` error at most once a second (:meth:`should_warn`), and is disconnected
    (:attr:`exhausted`) once it has kept sending over the limit for ``patience_s`` seconds:
    the excess is reset by a full second without any excess.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        patience_s: float = 5.0,
        clock=time.monotonic,
    ):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self.patience_s = patience_s
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._excess_since: float | None = None
        self._last_excess = -1e9
        self._last_warn = -1e9
        self.rejected = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self) -> bool:
        if not self.enabled:
            return True
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            if self._excess_since is not None and now - self._last_excess > 1.0:
                self._excess_since = None  # a quiet second: forgiven
            return True
        if self._excess_since is None or now - self._last_excess > 1.0:
            self._excess_since = now
        self._last_excess = now
        self.rejected += 1
        return False

    def should_warn(self) -> bool:
        now = self._clock()
        if now - self._last_warn >= 1.0:
            self._last_warn = now
            return True
        return False

    @property
    def exhausted(self) -> bool:
        return (
            self._excess_since is not None
            and self._last_excess - self._excess_since >= self.patience_s
        )
