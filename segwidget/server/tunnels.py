"""Reaching a loopback server from outside: ngrok tunnels and Colab's port proxy.

Both ``segwidget serve --ngrok`` (:mod:`segwidget.server.serve`) and
:func:`segwidget.colab.serve` use these; each reached origin is added to the server's
allowed WebSocket origins by the caller.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

NGROK_HINT = (
    "--ngrok needs pyngrok: pip install 'segwidget[ngrok]' (or pip install pyngrok), and an "
    "ngrok auth token in NGROK_AUTHTOKEN (free at https://dashboard.ngrok.com)"
)


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules or importlib.util.find_spec("google.colab") is not None


def proxy_url(port: int) -> str | None:
    """Colab's proxy URL for a kernel port (``https://...colab...googleusercontent.com/``);
    None outside Colab or when the front-end cannot be asked (no browser attached)."""
    if not in_colab():
        return None
    try:
        from google.colab.output import eval_js

        url = eval_js(f"google.colab.kernel.proxyPort({int(port)}, {{'cache': false}})")
    except Exception as exc:
        log.warning("could not get Colab's proxy URL for port %s: %s", port, exc)
        return None
    return str(url) if url else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def start_ngrok(port: int) -> str:
    """Open an ngrok HTTP tunnel to ``127.0.0.1:port``; returns its public https URL."""
    if importlib.util.find_spec("pyngrok") is None:
        raise RuntimeError(NGROK_HINT)
    from pyngrok import conf, ngrok

    token = os.environ.get("NGROK_AUTHTOKEN") or os.environ.get("NGROK_AUTH_TOKEN")
    if token:
        conf.get_default().auth_token = token
    tunnel = ngrok.connect(f"127.0.0.1:{int(port)}", "http")
    url = str(tunnel.public_url)
    if url.startswith("http://"):
        url = "https://" + url[len("http://") :]
    return url.rstrip("/")


def stop_ngrok(public_url: str) -> None:
    """Close a tunnel opened by :func:`start_ngrok` (errors are logged, not raised)."""
    try:
        from pyngrok import ngrok

        ngrok.disconnect(public_url)
    except Exception as exc:
        log.debug("closing the ngrok tunnel failed: %s", exc)
