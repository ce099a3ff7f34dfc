"""The standalone page from Google Colab (or any notebook): Colab's port proxy, or ngrok.

In a Colab cell::

    from segwidget.colab import serve
    page = serve(weights="pretrained")   # starts the server in this kernel, shows a link

The server runs on a thread of the kernel, on loopback, with a token. In Colab the page is
reached through Colab's own authenticated port proxy (``google.colab.kernel.proxyPort``),
whose origin is added to the allowed WebSocket origins; elsewhere :func:`serve` prints the
local URL. ``serve(ngrok=True)`` (or ``segwidget serve --ngrok``) opens a public ngrok tunnel
instead, as the spec's deployment guide does: ``pip install 'segwidget[ngrok]'`` and set
``NGROK_AUTHTOKEN`` (a free token from ngrok.com). Anyone with the printed URL, token
included, can use the server: share it accordingly.
"""

from __future__ import annotations

from typing import Any

from .server.tunnels import NGROK_HINT, in_colab, origin_of, proxy_url, start_ngrok, stop_ngrok


class PageServer:
    """A running page server: :attr:`url` (with the token), :meth:`stop`."""

    def __init__(self, background: Any, url: str, public_url: str | None = None):
        self.background = background
        self.url = url
        self.public_url = public_url
        self.local_url = background.url

    @property
    def token(self) -> str | None:
        return self.background.config.token

    def stop(self) -> None:
        if self.public_url:
            stop_ngrok(self.public_url)
        self.background.stop()

    def _repr_html_(self) -> str:
        import html

        url = html.escape(self.url, quote=True)
        return (
            f'<p>segwidget page: <a href="{url}" target="_blank" rel="noopener">{url}</a> '
            "(the link carries the access token)</p>"
        )

    def __repr__(self) -> str:
        return f"PageServer({self.url!r})"


def serve(
    profile: str = "fast",
    weights: str = "pretrained",
    *,
    port: int = 0,
    ngrok: bool = False,
    display: bool = True,
    **config: Any,
) -> PageServer:
    """Start the page server on a thread of this kernel and show where to open it.

    ``config``: further :class:`~segwidget.server.config.ServerConfig` fields
    (``backend``, ``device``, ``max_clients``, ``token``, ...). The default profile is loaded
    before this returns, so a missing weight fails here, with its explanation.
    """
    from .server.background import BackgroundServer
    from .server.config import ServerConfig
    from .stream import load_engine
    from .transports import security

    config.setdefault("token", security.resolve_token("auto", "127.0.0.1"))
    cfg = ServerConfig(host="127.0.0.1", port=port, profile=profile, weights=weights, **config)
    engine = load_engine(profile, **cfg.engine_kwargs)
    background = BackgroundServer(cfg)
    background.state.engines[profile] = dict(engine.info)
    suffix = f"/?token={cfg.token}" if cfg.token else "/"
    public = None
    url = background.url
    if ngrok:
        public = start_ngrok(background.port)
        background.state.allow_origins.add(origin_of(public))
        url = public + suffix
    else:
        proxied = proxy_url(background.port)
        if proxied:
            background.state.allow_origins.add(origin_of(proxied))
            url = proxied.rstrip("/") + suffix
    try:
        background.start()
    except BaseException:
        if public:
            stop_ngrok(public)
        raise
    page = PageServer(background, url, public)
    if display:
        _show(page)
    return page


def _show(page: PageServer) -> None:
    try:
        from IPython.display import HTML, display

        display(HTML(page._repr_html_()))
    except Exception:
        print(f"segwidget page: {page.url}")


__all__ = [
    "NGROK_HINT",
    "PageServer",
    "in_colab",
    "origin_of",
    "proxy_url",
    "serve",
    "start_ngrok",
    "stop_ngrok",
]
