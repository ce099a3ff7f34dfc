"""The WAN emulation of the end-to-end bench (segwidget/bench/harness/wan.py) against a local
echo server: bytes intact and in order, and the delay, rate cap and stall it adds.

Only lower bounds are asserted about time (the proxy never delivers early, whatever the
machine's load); nothing here fails because the machine is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest

from segwidget.bench.harness.wan import WanProxy


@pytest.fixture(scope="module")
def echo_port():
    """A TCP echo server on its own thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = [0]

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(echo, "127.0.0.1", 0))
        port[0] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port[0]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def connect(proxy: WanProxy) -> socket.socket:
    sock = socket.create_connection((proxy.listen_host, proxy.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(sock: socket.socket, payload: bytes) -> tuple[bytes, float]:
    """Send ``payload``, read it back; (what came back, seconds it took)."""
    t0 = time.monotonic()
    got = bytearray()

    def reader() -> None:
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got.extend(chunk)

    th = threading.Thread(target=reader)
    th.start()
    sock.sendall(payload)
    th.join(60)
    return bytes(got), time.monotonic() - t0


def test_bytes_arrive_intact_in_order_and_no_sooner_than_the_round_trip(echo_port):
    payload = bytes(range(256)) * 400  # 100 kB
    with WanProxy(echo_port, rtt_ms=200) as proxy, connect(proxy) as sock:
        assert proxy.listen_host == "127.0.0.2"
        got, took = exchange(sock, b"x")
        assert got == b"x"
        assert took >= 0.2 * 0.95  # one added round trip (echo: there and back)
        got, _ = exchange(sock, payload)
        assert got == payload
        assert proxy.carried() == {"up": len(payload) + 1, "down": len(payload) + 1}


def test_rate_cap_shapes_throughput_and_can_change_mid_run(echo_port):
    payload = b"\x5a" * 250_000  # 2 Mbit: at least 1 s at 2 Mbit/s, each way overlapped
    with WanProxy(echo_port, up_mbit=2.0) as proxy, connect(proxy) as sock:
        got, took = exchange(sock, payload)
        assert got == payload
        assert took >= 1.0 * 0.95
        proxy.set(up_mbit=None)  # uncapped: the same bytes no longer wait for the wire
        got, _ = exchange(sock, payload)
        assert got == payload
        proxy.set(up_mbit=1.0, rtt_ms=100)
        got, took = exchange(sock, payload[:62_500])  # 0.5 Mbit at 1 Mbit/s + 100 ms
        assert took >= 0.6 * 0.95
    assert not proxy.running


def test_a_stall_holds_everything_then_delivers_it(echo_port):
    with WanProxy(echo_port, rtt_ms=20) as proxy, connect(proxy) as sock:
        proxy.stall(1.0)
        got, took = exchange(sock, b"held")
        assert got == b"held"
        assert took >= 1.0 * 0.95
        got, _ = exchange(sock, b"after")  # and the link works again
        assert got == b"after"


def test_bounded_it_closes_by_itself_and_refuses_extra_connections(echo_port):
    proxy = WanProxy(echo_port, max_seconds=1.0, max_connections=1).start()
    first = connect(proxy)
    assert exchange(first, b"a")[0] == b"a"
    second = connect(proxy)  # over the limit: closed at once
    second.settimeout(10)
    assert second.recv(10) == b""
    deadline = time.monotonic() + 30
    while proxy.running and time.monotonic() < deadline:
        proxy._thread.join(0.1)
    assert not proxy.running
    assert proxy.closed_by_deadline
    assert (proxy.accepted, proxy.refused) == (1, 1)
    first.settimeout(10)
    assert first.recv(10) == b""  # its connections went with it
    for s in (first, second):
        s.close()
    with pytest.raises(ValueError, match="rtt_ms"):
        WanProxy(echo_port, rtt_ms=-1)


def test_url_through_the_proxy():
    proxy = WanProxy(8888)
    proxy.port = 40000
    assert proxy.url("http://127.0.0.1:8888/lab?token=x") == "http://127.0.0.2:40000/lab?token=x"
    assert proxy.url("http://localhost:8888/") == "http://127.0.0.2:40000/"
