"""A WAN on loopback: a TCP proxy that delays and rate-caps what passes through it.

``segwidget bench --e2e --rtt MS --rate-mbit R`` puts one in front of JupyterLab or
``segwidget serve`` and opens the page through it on 127.0.0.2 (not ``localhost``), so the
view behaves as it does far from its kernel (JPEG frames, not raw pixels: js/src/pixels.js).

Each direction is one bottleneck shared by every connection, as a home link is: a chunk
leaves it ``len / rate`` after the one before it (serialisation, a queue forms when more is
offered than it carries), then arrives ``rtt / 2`` later (propagation). Order is kept per
connection. :meth:`WanProxy.set` changes the delay and rates mid-run, :meth:`WanProxy.stall`
holds everything for a while (a Wi-Fi hiccup). Bounded: at most ``max_connections``
connections and ``queue_bytes`` waiting per connection and direction (the reader then stops
reading, and TCP pushes back), and the proxy closes by itself after ``max_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

CHUNK = 16 * 1024  # read size: 33 ms on the wire at 4 Mbit/s
DEFAULT_QUEUE_BYTES = 4 * 1024 * 1024


@dataclass
class Direction:
    """One way across the emulated link: its rate (None: unlimited) and its queue."""

    mbit: float | None = None
    free_at: float = 0.0  # loop time when everything queued on it has been serialised
    bytes: int = 0  # carried so far

    def schedule(self, n: int, now: float, delay_s: float) -> float:
        """When ``n`` bytes offered now arrive at the far end (loop time)."""
        start = max(now, self.free_at)
        wire = n * 8 / (self.mbit * 1e6) if self.mbit else 0.0
        self.free_at = start + wire
        self.bytes += n
        return self.free_at + delay_s


@dataclass
class Settings:
    rtt_ms: float = 0.0
    up: Direction = field(default_factory=Direction)  # client -> server (the browser's uplink)
    down: Direction = field(default_factory=Direction)
    stall_until: float = 0.0  # loop time before which nothing is delivered


class WanProxy:
    """Listens on ``listen_host`` (default 127.0.0.2) and forwards to ``target``.

    ``rtt_ms`` is added to the round trip (half each way); ``up_mbit`` caps what the client
    sends, ``down_mbit`` what it receives (None: no cap). Use as a context manager, or
    :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        target_port: int,
        *,
        target_host: str = "127.0.0.1",
        listen_host: str = "127.0.0.2",
        rtt_ms: float = 0.0,
        up_mbit: float | None = None,
        down_mbit: float | None = None,
        max_seconds: float = 3600.0,
        max_connections: int = 256,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
    ):
        if rtt_ms < 0 or any(r is not None and not r > 0 for r in (up_mbit, down_mbit)):
            raise ValueError("rtt_ms must be >= 0 and rates > 0 Mbit/s (or None)")
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self.max_seconds = max_seconds
        self.max_connections = max_connections
        self.queue_bytes = queue_bytes
        self.settings = Settings(rtt_ms, Direction(up_mbit), Direction(down_mbit))
        self.connections = 0  # open now
        self.accepted = 0
        self.refused = 0
        self.closed_by_deadline = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ready = threading.Event()
        self._done: asyncio.Event | None = None
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> WanProxy:
        self._thread = threading.Thread(target=self._run, name="segwidget-wan", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the WAN proxy did not start")
        if self._error is not None:
            raise RuntimeError(f"the WAN proxy did not start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop = self._loop
        if loop is not None and self._done is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._done.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> WanProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def url(self, url: str) -> str:
        """``url`` (on the target's host and port) as reached through the proxy."""
        host, port = self.target
        for name in (host, "localhost"):
            url = url.replace(f"//{name}:{port}", f"//{self.listen_host}:{self.port}")
        return url

    # -- the link, from any thread -------------------------------------------------------------
    def set(
        self,
        rtt_ms: float | None = None,
        up_mbit: float | bool | None = False,
        down_mbit: float | bool | None = False,
    ) -> None:
        """Change the added round trip and the rates (``None``: uncapped; leave out: keep)."""

        def apply() -> None:
            s = self.settings
            if rtt_ms is not None:
                s.rtt_ms = float(rtt_ms)
            if up_mbit is not False:
                s.up.mbit = up_mbit
            if down_mbit is not False:
                s.down.mbit = down_mbit

        self._call(apply)

    def stall(self, seconds: float) -> None:
        """Deliver nothing, either way, for ``seconds`` from now (then all that waited)."""

        def apply() -> None:
            assert self._loop is not None
            self.settings.stall_until = self._loop.time() + seconds

        self._call(apply)

    def carried(self) -> dict[str, int]:
        """Bytes carried so far: ``up`` (client to server) and ``down``."""
        return {"up": self.settings.up.bytes, "down": self.settings.down.bytes}

    def _call(self, fn) -> None:
        loop = self._loop
        if loop is None or not self.running:
            raise RuntimeError("the WAN proxy is not running")
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(5)

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start() if it never got going
            self._error = exc
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._done = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._done.wait(), self.max_seconds)
        except TimeoutError:
            self.closed_by_deadline = True
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter):
        if self.connections >= self.max_connections or self._done.is_set():
            self.refused += 1
            c_writer.close()
            return
        task = asyncio.current_task()
        self._tasks.add(task)
        self.connections += 1
        self.accepted += 1
        s_writer = None
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                self._pipe(c_reader, s_writer, self.settings.up),
                self._pipe(s_reader, c_writer, self.settings.down),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            self._tasks.discard(task)
            for w in (c_writer, s_writer):
                if w is not None:
                    w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: Direction
    ) -> None:
        """Carry one direction of one connection across the emulated link."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        room = asyncio.Event()
        room.set()
        waiting = 0
        last = 0.0

        async def deliver() -> None:
            nonlocal waiting
            while (item := await queue.get()) is not None:
                at, data = item
                while (wait := max(at, self.settings.stall_until) - loop.time()) > 0:
                    await asyncio.sleep(wait)  # a stall may begin meanwhile: look again
                writer.write(data)
                waiting -= len(data)
                if waiting <= self.queue_bytes:
                    room.set()
                await writer.drain()
            with contextlib.suppress(OSError, RuntimeError):
                writer.write_eof()

        sender = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(CHUNK):
                at = way.schedule(len(data), loop.time(), self.settings.rtt_ms / 2000)
                last = max(last, at)  # never reorder within a connection
                waiting += len(data)
                queue.put_nowait((last, data))
                if waiting > self.queue_bytes:
                    room.clear()
                    await room.wait()
            queue.put_nowait(None)
            await sender
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender
