"""The Colab / ngrok helpers of the page server, with fake ``google.colab`` and ``pyngrok``."""

from __future__ import annotations

import asyncio
import importlib.machinery
import sys
import types

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from segwidget import colab
from segwidget.server import tunnels


def _module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


@pytest.fixture
def fake_colab(monkeypatch):
    calls = []

    def eval_js(code):
        calls.append(code)
        return "https://abc123-8000-colab.googleusercontent.com/"

    output = _module("google.colab.output", eval_js=eval_js)
    google_colab = _module("google.colab", output=output)
    monkeypatch.setitem(sys.modules, "google.colab", google_colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    return calls


def _ws(page, origin: str):
    local = page.local_url.split("/?")[0].replace("http://", "ws://")
    return websockets.connect(f"{local}/ws?token={page.token}", origin=origin, open_timeout=30)


async def _hello(page, origin: str) -> str:
    async with _ws(page, origin) as ws:
        await ws.send('{"type": "init", "config": {"binary": true}}')
        while True:
            msg = await asyncio.wait_for(ws.recv(), 60)
            if '"ready"' in msg:
                return msg


def test_serve_outside_colab(fast_engine):
    page = colab.serve(weights="random", display=False)
    try:
        assert page.url == page.local_url
        assert page.url.startswith("http://127.0.0.1:")
        assert f"?token={page.token}" in page.url
        assert httpx.get(page.url).status_code in (200, 503)  # 503: page not built
        assert "token" in page._repr_html_()
    finally:
        page.stop()


def test_serve_in_colab_uses_the_proxy_and_allows_its_origin(fake_colab, fast_engine):
    assert colab.in_colab()
    page = colab.serve(weights="random", display=False)
    try:
        assert page.url == f"https://abc123-8000-colab.googleusercontent.com/?token={page.token}"
        assert "proxyPort" in fake_colab[0]
        asyncio.run(_hello(page, "https://abc123-8000-colab.googleusercontent.com"))
        with pytest.raises(InvalidStatus):
            asyncio.run(_hello(page, "https://other-8000-colab.googleusercontent.com"))
    finally:
        page.stop()


def test_ngrok_without_pyngrok_explains(monkeypatch):
    monkeypatch.setattr(tunnels.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install 'segwidget\\[ngrok\\]'"):
        colab.start_ngrok(8000)


def test_ngrok_tunnel(monkeypatch, fast_engine):
    state = {"connected": [], "disconnected": [], "token": None}

    class Conf:
        auth_token = None

    conf_obj = Conf()

    def connect(addr, proto):
        state["connected"].append((addr, proto))
        return types.SimpleNamespace(public_url="http://tunnel-1.ngrok-free.app")

    ngrok = _module(
        "pyngrok.ngrok", connect=connect, disconnect=lambda url: state["disconnected"].append(url)
    )
    conf = _module("pyngrok.conf", get_default=lambda: conf_obj)
    monkeypatch.setitem(sys.modules, "pyngrok", _module("pyngrok", ngrok=ngrok, conf=conf))
    monkeypatch.setitem(sys.modules, "pyngrok.ngrok", ngrok)
    monkeypatch.setitem(sys.modules, "pyngrok.conf", conf)
    monkeypatch.setenv("NGROK_AUTHTOKEN", "tok-123")

    page = colab.serve(weights="random", display=False, ngrok=True)
    try:
        assert page.url == f"https://tunnel-1.ngrok-free.app/?token={page.token}"
        assert state["connected"] == [(f"127.0.0.1:{page.background.port}", "http")]
        assert conf_obj.auth_token == "tok-123"
        asyncio.run(_hello(page, "https://tunnel-1.ngrok-free.app"))
    finally:
        page.stop()
    assert state["disconnected"] == ["https://tunnel-1.ngrok-free.app"]
