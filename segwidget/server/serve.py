"""``segwidget serve`` (and ``python -m segwidget.server``): load, print the URLs, serve."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import webbrowser

from ..errors import SegwidgetError
from .app import create_app
from .background import bind_socket, uvicorn_config
from .config import ServerConfig, add_arguments, config_from_args
from .tunnels import in_colab, origin_of, start_ngrok, stop_ngrok


def _display_urls(config: ServerConfig, port: int) -> list[str]:
    host = config.host
    hosts = [host]
    if host in ("0.0.0.0", "::", ""):
        hosts = [socket.gethostname(), "127.0.0.1"]
    suffix = f"/?token={config.token}" if config.token else "/"
    return [f"http://{f'[{h}]' if ':' in h else h}:{port}{suffix}" for h in hosts]


def run(args: argparse.Namespace) -> int:
    """``segwidget serve``: load the default profile, serve until Ctrl-C. Returns the exit code."""
    import uvicorn

    from ..stream import load_engine

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"segwidget serve: {exc}", file=sys.stderr)
        return 2
    where = f" from the cluster at {config.cluster}" if config.cluster else ""
    print(f"Loading the {config.profile!r} profile{where} ...", flush=True)
    try:
        engine = load_engine(config.profile, **config.engine_kwargs)
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
    if public is None and in_colab():
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
            stop_ngrok(public)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segwidget.server")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)
