"""``segwidget serve`` over a real uvicorn server on a free loopback port, with the
``websockets`` client: both protocols, model switching, viz settings, every bad input,
security (token, Origin, Host), limits (size, dimensions, rate, clients) and many clients."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import weakref
import zlib

import cv2
import httpx
import numpy as np
import pytest
import websockets
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus

from segwidget.edges import edge_field
from segwidget.labels import PALETTES, VOC_CLASSES
from segwidget.preprocess import decode_i420, encode_i420, encode_jpeg
from segwidget.protocol import decode_mask, pack_ws, unpack_ws
from segwidget.render import render_overlay
from segwidget.server.background import BackgroundServer
from segwidget.server.config import ServerConfig

TOKEN = "test-token-0123456789"
TIMEOUT = 60.0  # seconds for any one expected message (a profile load on a slow CI machine)


# ----------------------------------------------------------------------------- helpers


def start_server(**overrides) -> BackgroundServer:
    kwargs = {"host": "127.0.0.1", "port": 0, "weights": "random", "token": TOKEN}
    kwargs.update(overrides)
    server = BackgroundServer(ServerConfig(**kwargs)).start()
    # ready once /healthz answers
    r = httpx.get(f"{server.base_url}/healthz", timeout=10)
    assert r.status_code == 200, r.text
    return server


def ws_url(server: BackgroundServer, token: str | None = TOKEN) -> str:
    url = server.base_url.replace("http://", "ws://") + "/ws"
    return f"{url}?token={token}" if token else url


def run(coro, timeout: float = 180.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Client:
    """A websockets connection with helpers to wait for one message type."""

    def __init__(self, ws):
        self.ws = ws

    async def send(self, msg: dict, buffers: list[bytes] = ()) -> None:
        await self.ws.send(pack_ws(msg, list(buffers)))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = TIMEOUT) -> tuple[dict, list[bytes]]:
        return unpack_ws(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, *types: str, timeout: float = TIMEOUT) -> tuple[dict, list[bytes]]:
        """The next message of one of ``types``; stats and loading are skipped, any other
        message (an unexpected error above all) fails the test."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {types} message within {timeout} s")
            header, buffers = await self.recv(left)
            if header["type"] in types:
                return header, buffers
            if header["type"] in ("stats", "loading"):
                continue
            raise AssertionError(f"expected {types}, got {header}")

    async def init(self, **config) -> dict:
        await self.send({"type": "init", "config": config})
        header, _ = await self.expect("ready" if config.get("binary") else "connected")
        return header

    async def spec_frame(self, jpeg: bytes, timestamp: float = 1698765432000.0) -> dict:
        data = base64.b64encode(jpeg).decode()
        await self.send({"type": "frame", "data": data, "timestamp": timestamp})
        header, _ = await self.expect("segmentation")
        return header


class connect:  # noqa: N801 - used like websockets.connect
    def __init__(self, server: BackgroundServer, token: str | None = TOKEN, **kwargs):
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("open_timeout", 30)
        self._cm = websockets.connect(ws_url(server, token), **kwargs)

    async def __aenter__(self) -> Client:
        return Client(await self._cm.__aenter__())

    async def __aexit__(self, *exc):
        return await self._cm.__aexit__(*exc)


def png_rgb(segmentation: dict) -> np.ndarray:
    img = Image.open(io.BytesIO(base64.b64decode(segmentation["data"])))
    assert img.format == "PNG"
    return np.asarray(img)


def decoded(jpeg: bytes) -> np.ndarray:
    """The frame exactly as the server decodes it (OpenCV)."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def colours(img: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.unique(img.reshape(-1, img.shape[-1]), axis=0).tolist()}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(fast_engine):
    srv = start_server(max_side=1024, max_message_bytes=1024 * 1024)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def jpeg(photos) -> bytes:
    """A 4:3 photo (cat), 400 x 300."""
    return encode_jpeg(cv2.resize(photos["chelsea"], (400, 300), interpolation=cv2.INTER_AREA))


# ----------------------------------------------------------------------------- HTTP routes


def test_healthz_and_info(server):
    r = httpx.get(f"{server.base_url}/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"

    assert httpx.get(f"{server.base_url}/api/info").status_code == 403
    assert httpx.get(f"{server.base_url}/api/info?token=wrong-token-xyz").status_code == 403
    r = httpx.get(f"{server.base_url}/api/info?token={TOKEN}")
    assert r.status_code == 200
    info = r.json()
    assert set(info["profiles"]) == {"fast", "balanced", "accurate", "person"}
    assert info["labels"]["voc"] == list(VOC_CLASSES)
    assert info["labels"]["person"] == ["background", "person"]
    assert len(info["labels"]["ade20k"]) == 150
    assert info["backend"] in ("onnxruntime", "torch", "tensorrt")
    assert info["device"] in ("cpu", "cuda")
    assert isinstance(info["version"], str)
    assert info["token_required"] is True
    # the Authorization header works too
    r = httpx.get(f"{server.base_url}/api/info", headers={"Authorization": f"token {TOKEN}"})
    assert r.status_code == 200


def test_page_needs_the_token_and_static_stays_in_its_folder(server):
    r = httpx.get(f"{server.base_url}/")
    assert r.status_code == 403
    assert "token" in r.text
    r = httpx.get(f"{server.base_url}/?token={TOKEN}")
    from segwidget.server.app import STATIC_DIR

    if (STATIC_DIR / "index.html").is_file():
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["referrer-policy"] == "no-referrer"  # the URL holds the token
    else:
        assert r.status_code == 503
    # nothing outside segwidget/static, however the path is spelled
    for path in ("/static/../engine.py", "/static/%2e%2e/engine.py", "/static/..%2fengine.py"):
        r = httpx.get(f"{server.base_url}{path}")
        assert r.status_code == 404, path
        assert "Engine" not in r.text


# ----------------------------------------------------------------------------- protocols


def test_spec_json_flow(server, jpeg):
    async def go():
        async with connect(server) as c:
            await c.send({"type": "init", "config": {"model_mode": "fast"}})
            loading, _ = await c.expect("loading")
            assert loading["profile"] == "fast"
            hello, _ = await c.expect("connected")
            assert hello["status"] == "ready"
            assert hello["available_models"] == ["fast", "balanced", "accurate", "person"]
            assert hello["class_labels"] == list(VOC_CLASSES)
            assert hello["profile"] == "fast"
            colormap = hello["default_colormap"]
            assert colormap["person"] == PALETTES["voc"][15].tolist()
            assert set(colormap) == set(VOC_CLASSES)
            assert hello["input_size"] > 0
            assert hello["info"]["backend"]

            seg = await c.spec_frame(jpeg, timestamp=1698765432000)
            assert seg["timestamp"] == 1698765432000
            img = png_rgb(seg)
            assert img.shape == (300, 400, 3)  # the frame's size
            meta = seg["metadata"]
            assert meta["model_mode"] == "fast"
            assert meta["inference_time_ms"] > 0
            assert isinstance(meta["fps"], float)
            assert meta["detected_classes"]
            assert set(meta["detected_classes"]) <= set(VOC_CLASSES)
            fractions = [f for _, f in meta["classes"]]
            assert fractions == sorted(fractions, reverse=True)
            assert abs(sum(fractions) - 1) < 1e-3

            # a data URL (canvas.toDataURL) is accepted as well
            url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
            await c.send({"type": "frame", "data": url, "timestamp": 5})
            seg2, _ = await c.expect("segmentation")
            assert seg2["timestamp"] == 5
            assert np.array_equal(png_rgb(seg2), img)  # same frame, same result

    run(go())


def test_spec_stats_arrive_while_streaming(server, jpeg):
    async def go():
        async with connect(server) as c:
            await c.init()
            data = base64.b64encode(jpeg).decode()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                await c.send({"type": "frame", "data": data, "timestamp": 1})
                while True:
                    h, _ = await c.recv()
                    if h["type"] == "stats":
                        assert h["fps"] >= 0
                        assert h["avg_inference_ms"] > 0
                        assert h["queue_size"] in (0, 1)
                        assert "gpu_memory_mb" in h  # null on CPU
                        assert h["stats"]["frames_processed"] >= 1
                        return
                    assert h["type"] in ("segmentation", "loading"), h
                    if h["type"] == "segmentation":
                        break
            raise AssertionError("no stats within 30 s of streaming")

    run(go())


def test_raw_i420_frames_and_adaptive_quality_over_the_socket(server, fast_engine):
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 240, (x ^ y) & 255], -1).astype(np.uint8)
    raw = encode_i420(rgb)

    async def go():
        async with connect(server) as c:
            await c.init(binary=True, latency_budget_ms=100)
            head = {"type": "frame", "encoding": "i420", "width": 320, "height": 240}
            await c.send({**head, "seq": 1, "mask_encoding": "raw"}, [raw])
            res, bufs = await c.expect("result")
            assert res["mask"] == {"width": 320, "height": 240, "encoding": "raw"}
            want = fast_engine.segment(decode_i420(raw, 320, 240)).mask
            assert np.array_equal(decode_mask(bufs[0], 320, 240, "raw"), want)
            assert res["quality"] == {"input_size": 320, "max_fps": None, "adapted": False}
            await c.send({**head, "seq": 2, "width": 322}, [raw])
            err, _ = await c.expect("error")
            assert (err["code"], err["seq"]) == ("BAD_FRAME", 2)
            # every frame reports a latency over the 100 ms budget: the input size steps down
            seq = 10
            while res.get("quality", {}).get("input_size") == 320 and seq < 60:
                seq += 1
                fb = {"seq": seq - 1, "latency_ms": 400.0}
                await c.send({**head, "seq": seq, "feedback": fb}, [raw])
                res, _ = await c.expect("result")
            assert res["quality"] == {"input_size": 256, "max_fps": None, "adapted": True}
            assert max(res["mask"]["width"], res["mask"]["height"]) == 256
            await c.init(binary=True, adapt=False)  # off: full quality again
            await c.send({**head, "seq": 100}, [raw])
            res, _ = await c.expect("result")
            assert res["quality"]["input_size"] == 320

    run(go())


def test_binary_flow(server, jpeg, fast_engine):
    async def go():
        async with connect(server) as c:
            ready = await c.init(binary=True)
            assert ready["type"] == "ready"
            assert ready["labels"] == list(VOC_CLASSES)
            assert ready["default_colormap"] == "voc"
            assert ready["palettes"]["voc"][15] == PALETTES["voc"][15].tolist()
            t = 1732500000123.4
            await c.send(
                {"type": "frame", "seq": 41, "t_capture": t, "width": 400, "height": 300}, [jpeg]
            )
            head, bufs = await c.expect("result")
            assert head["seq"] == 41
            assert head["t_capture"] == t
            assert head["profile"] == "fast"
            h, w = fast_engine.model_hw(300, 400)
            assert (head["mask"]["height"], head["mask"]["width"]) == (h, w)
            mask = decode_mask(bufs[0], w, h, head["mask"]["encoding"])
            assert mask.shape == (h, w)
            assert mask.max() < len(VOC_CLASSES)
            expected = fast_engine.segment_jpeg(jpeg).mask
            assert np.array_equal(mask, expected)
            assert {i for i, _ in head["classes"]} == set(np.unique(mask).tolist())
            assert head["timings"]["inference"] > 0

            # other mask encodings
            await c.init(binary=True, mask_encoding="raw")
            await c.send({"type": "frame", "seq": 42}, [jpeg])
            head, bufs = await c.expect("result")
            assert head["mask"]["encoding"] == "raw"
            assert np.array_equal(np.frombuffer(bufs[0], np.uint8).reshape(h, w), expected)

            # hello re-sends ready
            await c.send({"type": "hello"})
            again, _ = await c.expect("ready")
            assert again["profile"] == "fast"

    run(go())


def test_spec_mask_output(server, jpeg, fast_engine):
    """``init.config.png = "mask"``: the colourised mask (RGBA) at model resolution."""

    async def go():
        async with connect(server) as c:
            await c.init(png="mask")
            seg = await c.spec_frame(jpeg)
            img = png_rgb(seg)
            h, w = fast_engine.model_hw(300, 400)
            assert img.shape == (h, w, 4)
            mask = fast_engine.segment_jpeg(jpeg).mask
            assert np.array_equal(img[..., :3], PALETTES["voc"][mask])
            assert (img[..., 3] == 255).all()

    run(go())


def test_change_mode_fast_to_balanced(server, jpeg):
    async def go():
        async with connect(server) as c:
            await c.init(model_mode="fast")
            seg = await c.spec_frame(jpeg)
            assert seg["metadata"]["model_mode"] == "fast"
            await c.send({"type": "change_mode", "model_mode": "balanced"})
            loading, _ = await c.expect("loading")
            assert loading["profile"] == "balanced"
            hello, _ = await c.expect("connected", timeout=300)
            assert hello["profile"] == "balanced"
            assert hello["info"]["model"] == "deeplabv3_resnet50"
            seg = await c.spec_frame(jpeg)
            assert seg["metadata"]["model_mode"] == "balanced"

            # binary clients get `ready`; switching back to a loaded profile is quick
            await c.send({"type": "init", "config": {"binary": True, "model_mode": "fast"}})
            ready, _ = await c.expect("ready")
            assert ready["profile"] == "fast"
            await c.send({"type": "frame", "seq": 1}, [jpeg])
            head, _ = await c.expect("result")
            assert head["profile"] == "fast"

    run(go(), timeout=400)


def test_update_viz_changes_the_png(server, jpeg, fast_engine):
    frame = decoded(jpeg)
    mask = fast_engine.segment_jpeg(jpeg).mask
    voc = {tuple(c) for c in PALETTES["voc"].tolist()}
    present = [VOC_CLASSES[i] for i in np.unique(mask)]
    absent = next(n for n in VOC_CLASSES if n not in present)

    async def go():
        async with connect(server) as c:
            await c.init()

            async def png(**settings) -> np.ndarray:
                if settings:
                    await c.send({"type": "update_viz", "settings": settings})
                return png_rgb(await c.spec_frame(jpeg))

            default = await png()  # filled, 0.6, VOC
            assert np.array_equal(
                default, render_overlay(frame, mask, PALETTES["voc"], "filled", 0.6)
            )
            clear = await png(overlay_opacity=0.0)
            assert np.array_equal(clear, frame)
            solid = await png(overlay_opacity=1.0)
            inner = edge_field(mask, None, *frame.shape[:2]).t == 255  # off the AA edges
            assert colours(solid[inner]) <= voc
            assert not np.array_equal(solid, default)
            city = await png(colormap="cityscapes")
            assert colours(city[inner]) <= {tuple(c) for c in PALETTES["cityscapes"].tolist()}
            assert not np.array_equal(city, solid)
            side = await png(visualization_mode="side-by-side", colormap="voc")
            assert side.shape == (300, 800, 3)
            assert np.array_equal(side[:, :400], frame)
            assert np.array_equal(side[:, 400:], solid)
            contour = await png(visualization_mode="contour")
            assert np.array_equal(
                contour, render_overlay(frame, mask, PALETTES["voc"], "contour", 1.0)
            )
            blend = await png(visualization_mode="blend", overlay_opacity=0.5)
            assert blend.shape == frame.shape
            assert not np.array_equal(blend, frame)
            # the filter: a class that is not there leaves the frame untouched ...
            hidden = await png(
                visualization_mode="filled", overlay_opacity=1.0, class_filter=[absent]
            )
            assert np.array_equal(hidden, frame)
            # ... and the largest present class is coloured, every other pixel is the frame
            top = present[0]
            only = await png(class_filter=[top])
            ids = [VOC_CLASSES.index(top)]
            assert np.array_equal(
                only, render_overlay(frame, mask, PALETTES["voc"], "filled", 1.0, ids)
            )
            # null shows every class again
            assert np.array_equal(await png(class_filter=None), solid)
            # a name of another profile's labels is accepted (it may race a profile switch)
            # and ignored while this profile serves
            assert np.array_equal(await png(class_filter=["wall"]), solid)
            custom = await png(colormap="custom", custom_colormap=[[1, 2, 3]])
            assert colours(custom) == {(1, 2, 3)}
            # the background effects, on the profile's person class (fast: VOC 15)
            pal = PALETTES["voc"]
            replaced = await png(visualization_mode="replace", background=[1, 2, 3], colormap="voc")
            assert np.array_equal(
                replaced,
                render_overlay(frame, mask, pal, "replace", person=15, background=(1, 2, 3)),
            )
            mirrored = await png(visualization_mode="filled", mirror=True)
            assert np.array_equal(
                mirrored, render_overlay(frame, mask, pal, "filled", 1.0, mirror=True)
            )
            assert not np.array_equal(mirrored, solid)

    run(go())


def test_options_ask_for_the_confidence_buffer(server, jpeg):
    """A profile without confidence (fast) sends none even when asked; asking is not an error."""

    async def go():
        async with connect(server) as c:
            await c.init(binary=True)
            await c.send({"type": "options", "confidence": True})
            await c.send({"type": "frame", "seq": 1}, [jpeg])
            head, buffers = await c.expect("result")
            assert head["seq"] == 1
            assert "confidence" not in head
            assert len(buffers) == 1

    run(go())


# ----------------------------------------------------------------------------- bad input


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bad_cases(jpeg: bytes) -> list[tuple[str, object, str]]:
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    wide = encode_jpeg(np.zeros((8, 1100, 3), np.uint8))  # the test server's limit: 1024 px
    big = "x" * (1024 * 1024 + 10)  # the test server's limit: 1 MiB
    head = json.dumps({"type": "frame", "seq": 3, "sizes": [5]}).encode()
    mismatch = struct.pack(">I", len(head)) + head + b"0123456789"
    return [
        ("not json", "{not json", "BAD_JSON"),
        ("binary header not json", b"\x00\x00\x00\x03abc" + jpeg, "BAD_JSON"),
        ("array", "[1, 2]", "BAD_MESSAGE"),
        ("no type", '{"data": 1}', "BAD_MESSAGE"),
        ("unknown type", {"type": "subscribe"}, "UNKNOWN_TYPE"),
        ("data wrong type", {"type": "frame", "data": 123}, "BAD_MESSAGE"),
        ("seq wrong type", {"type": "frame", "seq": "7", "data": _b64(jpeg)}, "BAD_MESSAGE"),
        ("timestamp wrong type", {"type": "frame", "timestamp": "now"}, "BAD_MESSAGE"),
        ("frame without jpeg", {"type": "frame", "seq": 9}, "BAD_MESSAGE"),
        ("bad base64", {"type": "frame", "data": "!!! not base64 !!!"}, "BAD_BASE64"),
        ("base64 padding", {"type": "frame", "data": "abc"}, "BAD_BASE64"),
        ("not a jpeg", {"type": "frame", "data": _b64(b"hello world" * 20)}, "BAD_JPEG"),
        ("png not jpeg", {"type": "frame", "data": _b64(png)}, "BAD_JPEG"),
        ("truncated jpeg", {"type": "frame", "data": _b64(jpeg[: len(jpeg) // 2])}, "BAD_JPEG"),
        ("too wide", {"type": "frame", "data": _b64(wide)}, "FRAME_TOO_LARGE"),
        ("too many bytes", {"type": "frame", "data": big}, "FRAME_TOO_LARGE"),
        ("binary sizes mismatch", mismatch, "BAD_FRAME"),
        ("binary short", b"\x00\x01", "BAD_FRAME"),
        (
            "binary declared sizes",
            pack_ws({"type": "frame", "seq": 5}, [jpeg])[:-10],
            "BAD_FRAME",
        ),
        ("unknown mode", {"type": "change_mode", "model_mode": "turbo"}, "UNKNOWN_MODE"),
        ("mode wrong type", {"type": "change_mode", "model_mode": 3}, "BAD_MESSAGE"),
        (
            "viz mode",
            {"type": "update_viz", "settings": {"visualization_mode": "sparkle"}},
            "UNKNOWN_MODE",
        ),
        ("colormap", {"type": "update_viz", "settings": {"colormap": "rainbow"}}, "UNKNOWN_MODE"),
        (
            "class name",
            {"type": "update_viz", "settings": {"class_filter": ["unicorn"]}},
            "UNKNOWN_MODE",
        ),
        (
            "opacity range",
            {"type": "update_viz", "settings": {"overlay_opacity": 1.5}},
            "BAD_MESSAGE",
        ),
        (
            "opacity type",
            {"type": "update_viz", "settings": {"overlay_opacity": "0.5"}},
            "BAD_MESSAGE",
        ),
        ("settings missing", {"type": "update_viz"}, "BAD_MESSAGE"),
        (
            "background path",  # a client never names a file on the server
            {"type": "update_viz", "settings": {"background": "/etc/passwd"}},
            "BAD_MESSAGE",
        ),
        (
            "background colour",
            {"type": "update_viz", "settings": {"background": "#12"}},
            "BAD_MESSAGE",
        ),
        ("options type", {"type": "options", "confidence": "yes"}, "BAD_MESSAGE"),
        ("init mode", {"type": "init", "config": {"model_mode": "ultra"}}, "UNKNOWN_MODE"),
        ("init binary type", {"type": "init", "config": {"binary": "yes"}}, "BAD_MESSAGE"),
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["spec", "binary"])
def test_every_bad_input_gets_its_code_and_the_connection_stays_usable(server, jpeg, binary):
    cases = _bad_cases(jpeg)

    async def go():
        async with connect(server) as c:
            await c.init(binary=binary)
            for name, msg, code in cases:
                await c.send_raw(json.dumps(msg) if isinstance(msg, dict) else msg)
                err, _ = await c.expect("error")
                assert err["code"] == code, (name, err)
                assert err["recoverable"] is True, name
                assert err["message"], name
                # still usable: a good frame gets its result
                if binary:
                    await c.send({"type": "frame", "seq": 1000}, [jpeg])
                    head, _ = await c.expect("result")
                    assert head["seq"] == 1000, name
                else:
                    await c.spec_frame(jpeg)

    run(go())


def test_errors_of_a_frame_carry_its_seq(server, jpeg):
    async def go():
        async with connect(server) as c:
            await c.init(binary=True)
            await c.send({"type": "frame", "seq": 77}, [b"not a jpeg at all"])
            err, _ = await c.expect("error")
            assert (err["code"], err["seq"]) == ("BAD_JPEG", 77)
            # a truncated JPEG passes the header check and fails in the worker
            await c.send({"type": "frame", "seq": 78}, [jpeg[: len(jpeg) // 2]])
            err, _ = await c.expect("error")
            assert (err["code"], err["seq"]) == ("BAD_JPEG", 78)
            big = pack_ws({"type": "frame", "seq": 79}, [b"\xff" * (1024 * 1024)])
            await c.send_raw(big)
            err, _ = await c.expect("error")
            assert (err["code"], err["seq"]) == ("FRAME_TOO_LARGE", 79)

    run(go())


def test_frame_before_init(server, jpeg):
    async def go():
        async with connect(server) as c:
            await c.send({"type": "frame", "data": _b64(jpeg)})
            err, _ = await c.expect("error")
            assert err["code"] == "NOT_INITIALIZED"
            await c.send({"type": "change_mode", "model_mode": "fast"})
            err, _ = await c.expect("error")
            assert err["code"] == "NOT_INITIALIZED"
            await c.init()
            await c.spec_frame(jpeg)

    run(go())


def test_message_over_the_hard_limit_closes_with_1009(server):
    async def go():
        async with connect(server) as c:
            await c.init()
            # The server may close while the client is still sending: either call raises.
            with pytest.raises(ConnectionClosed) as info:  # noqa: PT012 (either call may raise)
                await c.send_raw("x" * (server.config.hard_max_bytes + 1))
                await c.recv()
            assert info.value.rcvd.code == 1009

    run(go())


# ----------------------------------------------------------------------------- security


def test_token_is_required_on_the_socket(server):
    async def go():
        for token in (None, "wrong-token-0123456789", TOKEN[:-1]):
            with pytest.raises(InvalidStatus) as info:
                async with connect(server, token=token):
                    pass
            assert info.value.response.status_code == 403
            assert b"token" in info.value.response.body
        # the Authorization header is an alternative to ?token=
        headers = {"Authorization": f"token {TOKEN}"}
        async with connect(server, token=None, additional_headers=headers) as c:
            await c.init()

    run(go())


def test_origin_must_match_the_host(server, jpeg):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            async with connect(server, origin="http://evil.example"):
                pass
        assert info.value.response.status_code == 403
        assert b"Origin" in info.value.response.body
        with pytest.raises(InvalidStatus):
            async with connect(server, origin=f"http://localhost:{server.port}"):
                pass  # another name for the same machine is still another origin
        async with connect(server, origin=f"http://127.0.0.1:{server.port}") as c:
            await c.init()
            await c.spec_frame(jpeg)

    run(go())


def test_allow_origin():
    srv = start_server(allow_origins=("https://app.example",))

    async def go():
        async with connect(srv, origin="https://app.example") as c:
            await c.init()
        with pytest.raises(InvalidStatus):
            async with connect(srv, origin="https://other.example"):
                pass

    try:
        run(go())
    finally:
        srv.stop()


def test_without_a_token_only_loopback_host_headers():
    """DNS rebinding: a foreign name resolving to 127.0.0.1 is refused when there is no token."""
    srv = start_server(token=None)
    evil = {"Host": f"evil.example:{srv.port}"}
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }

    async def go():
        async with connect(srv, token=None) as c:
            await c.init()

    try:
        assert httpx.get(f"{srv.base_url}/api/info").status_code == 200
        assert httpx.get(f"{srv.base_url}/api/info", headers=evil).status_code == 403
        assert httpx.get(f"{srv.base_url}/", headers=evil).status_code == 403
        r = httpx.get(f"{srv.base_url}/ws", headers={**upgrade, **evil})
        assert r.status_code == 403
        assert "Host" in r.text
        run(go())
    finally:
        srv.stop()


def test_max_clients_refuses_with_1013():
    srv = start_server(max_clients=2)

    async def go():
        async with connect(srv) as a, connect(srv) as b:
            await a.init()
            await b.init()
            async with connect(srv) as third:
                with pytest.raises(ConnectionClosed) as info:
                    await third.recv()
                assert info.value.rcvd.code == 1013
                assert "max-clients" in info.value.rcvd.reason
        # the slots are free again once the first two left
        await wait_until(lambda: srv.state.clients == 0)
        async with connect(srv) as c:
            await c.init()

    try:
        run(go())
    finally:
        srv.stop()


def test_rate_limit_warns_then_closes():
    srv = start_server(rate_limit=20.0, rate_limit_patience_s=1.0)

    async def go():
        async with connect(srv) as c:
            await c.init()
            quiet = json.dumps({"type": "client_error", "code": None})  # no reply of its own
            for _ in range(60):
                await c.send_raw(quiet)
            err, _ = await c.expect("error")
            assert err["code"] == "RATE_LIMITED"
            assert err["recoverable"] is True
            # keep flooding: closed with 1008 once over the limit for longer than the patience
            deadline = time.monotonic() + 30
            closed = None
            while time.monotonic() < deadline:
                try:
                    await c.send_raw(quiet)
                except ConnectionClosed as exc:
                    closed = exc
                    break
                await asyncio.sleep(0.005)  # pace the flood (about 200 messages/s)
            assert closed is not None, "still open after 30 s of flooding"
            assert closed.rcvd.code == 1008
            assert "rate" in closed.rcvd.reason

    try:
        run(go())
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- many clients


async def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_disconnect_mid_inference_leaks_nothing(server, jpeg, caplog):
    state = server.state
    scheduler = state.scheduler
    refs = []

    async def go():
        for binary in (False, True, False, True, False):
            before = set(state.connections)
            async with connect(server) as c:
                await c.init(binary=binary)
                (conn,) = state.connections - before
                refs.append((weakref.ref(conn), weakref.ref(conn.session)))
                for seq in range(3):
                    if binary:
                        await c.send({"type": "frame", "seq": seq}, [jpeg])
                    else:
                        await c.send({"type": "frame", "data": _b64(jpeg)})
            # closed with frames in flight
        await wait_until(lambda: state.clients == 0 and not state.connections)
        # a pending result of a closed connection is discarded: run one more frame through
        # the worker so anything in flight has finished
        async with connect(server) as c:
            await c.init()
            await c.spec_frame(jpeg)

    with caplog.at_level(logging.DEBUG):
        run(go())
    with scheduler._cond:
        assert all(not s.closed for s in scheduler._ready)
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    gc.collect()
    alive = [(c(), s()) for c, s in refs if c() is not None or s() is not None]
    assert not alive, f"{len(alive)} closed connections or sessions are still referenced"


def test_a_client_that_never_reads_does_not_slow_the_others(server, jpeg, photos):
    # big results for the stuck client (a 1000 x 750 composite PNG is about 1.5 MB of base64),
    # so that the socket's buffers fill after a few of them
    big = encode_jpeg(cv2.resize(photos["coffee"], (1000, 750), interpolation=cv2.INTER_CUBIC))

    async def go():
        before = set(server.state.connections)
        sock = socket.socket()  # a small receive buffer: the stuck socket fills up sooner
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.connect(("127.0.0.1", server.port))
        async with connect(server, max_queue=1, sock=sock) as slow, connect(server) as fast:
            await slow.init()
            await fast.init(binary=True)
            (slow_conn,) = [c for c in server.state.connections - before if not c.binary]
            data = _b64(big)
            seq, worst = 0, 0.0

            async def step():
                nonlocal seq, worst
                await slow.send({"type": "frame", "data": data})  # its results pile up unread
                seq += 1
                t0 = time.monotonic()
                await fast.send({"type": "frame", "seq": seq}, [jpeg])
                head, _ = await fast.expect("result")
                assert head["seq"] == seq
                worst = max(worst, time.monotonic() - t0)
                assert len(slow_conn._outbox) <= server.config.pending_results + 2

            deadline = time.monotonic() + 90
            while slow_conn.results_dropped == 0:  # until the stuck socket's buffers are full
                assert time.monotonic() < deadline, "the unread results were never dropped"
                await step()
            for _ in range(30):  # and the reading client is still served as before
                await step()
            return worst, slow_conn.results_dropped

    worst, dropped = run(go())
    assert dropped > 0
    assert worst < 2.0  # no round trip of the reading client waited on the stuck one


@pytest.mark.slow
def test_eight_clients_stream_fairly_until_each_has_twenty_results(server, jpeg):
    """Eight clients, half on each protocol, stream until the slowest has 20 results; none
    may have had fewer than half of the mean by then (the scheduler is round-robin, so this
    holds however loaded the machine is; 60 s without a result is a hang, not slowness)."""
    n, want = 8, 20
    served = [0] * n

    async def stream(i: int) -> dict:
        async with connect(server) as c:
            binary = i % 2 == 0  # half speak each protocol
            await c.init(binary=binary)
            data = _b64(jpeg)
            errors, pending, seq = [], set(), 0
            last, heard = sum(served), time.monotonic()
            while min(served) < want:
                if sum(served) != last:
                    last, heard = sum(served), time.monotonic()
                assert time.monotonic() - heard < 60, f"no result for 60 s: {served}"
                while len(pending) < 2:  # like the page: at most two frames in flight
                    seq += 1
                    if binary:
                        await c.send({"type": "frame", "seq": seq}, [jpeg])
                    else:
                        await c.send({"type": "frame", "data": data, "timestamp": seq})
                    pending.add(seq)
                head, bufs = await c.recv()
                if head["type"] == "result":
                    done = head["seq"]
                    m = head["mask"]
                    assert decode_mask(bufs[0], m["width"], m["height"], m["encoding"]).size
                elif head["type"] == "segmentation":
                    done = int(head["timestamp"])
                    assert head["data"]
                elif head["type"] == "error":
                    errors.append(head)
                    done = max(pending)
                else:
                    continue
                served[i] += head["type"] != "error"
                # a result retires its frame and every older one (replaced frames get none)
                pending = {p for p in pending if p > done}
            return {"errors": errors}

    async def go():
        return await asyncio.gather(*(stream(i) for i in range(n)))

    stats = run(go(), timeout=1800)
    print(f"\n{n} clients, results each when the slowest had {want}: {served}")
    assert all(not s["errors"] for s in stats), [s["errors"][:2] for s in stats]
    assert min(served) >= want
    # fairness: no client got less than half of the mean
    assert min(served) >= 0.5 * sum(served) / n, served


# ----------------------------------------------------------------------------- command line


def test_cli_prints_the_url_with_a_token_and_serves(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segwidget.server", "--port", "0", "--weights", "random"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url, lines = None, []
        for line in proc.stdout:
            lines.append(line)
            if "?token=" in line:
                url = line.strip()
                break
        assert url, "".join(lines)
        assert url.startswith("http://127.0.0.1:")
        base, _, token = url.partition("/?token=")
        assert len(token) >= 32
        # The socket listens before the URL is printed, so this request waits in its backlog
        # until uvicorn accepts: a printed URL works at once.
        r = httpx.get(f"{base}/healthz", timeout=60)
        assert r.status_code == 200
        assert httpx.get(f"{base}/api/info?token={token}").status_code == 200
        assert httpx.get(f"{base}/api/info").status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_cli_refuses_no_token_on_a_public_host():
    import argparse

    from segwidget.server.config import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(ValueError, match="token"):
        config_from_args(parser.parse_args(["--host", "0.0.0.0", "--token", "none"]))
    with pytest.raises(ValueError, match="ngrok"):
        config_from_args(parser.parse_args(["--token", "none", "--ngrok"]))
    cfg = config_from_args(parser.parse_args(["--token", "none"]))
    assert cfg.token is None
    assert cfg.host == "127.0.0.1"
    cfg = config_from_args(parser.parse_args(["--host", "0.0.0.0"]))
    assert len(cfg.token) >= 32
    cfg = config_from_args(
        parser.parse_args(["--allow-origin", "https://A.example/", "--max-clients", "3"])
    )
    assert cfg.allow_origins == ("https://a.example",)
    assert cfg.max_clients == 3


def test_deflate_mask_is_a_zlib_stream(server, jpeg):
    """What the browser's DecompressionStream("deflate") expects."""

    async def go():
        async with connect(server) as c:
            await c.init(binary=True)
            await c.send({"type": "frame", "seq": 1}, [jpeg])
            head, bufs = await c.expect("result")
            raw = zlib.decompress(bufs[0])
            assert len(raw) == head["mask"]["width"] * head["mask"]["height"]

    run(go())
