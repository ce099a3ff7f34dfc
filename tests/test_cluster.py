"""The model tier on a real (local, CPU-only) Ray Serve cluster, started once for the module.

Two tiny replicas with random weights; sessions stream through ``RemoteEngine`` exactly as the
transports use it. Waits are on conditions with deadlines, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time

import cv2
import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="needs ray[serve]: pip install 'segwidget[cluster]'")
serve = pytest.importorskip("ray.serve")

from segwidget.cluster import connect  # noqa: E402
from segwidget.cluster.client import (  # noqa: E402
    RemoteEngine,
    clear_remote_engines,
    get_remote_engine,
)
from segwidget.cluster.config import DeployOptions, app_name  # noqa: E402
from segwidget.cluster.manage import deploy, shutdown  # noqa: E402
from segwidget.engine import Engine  # noqa: E402
from segwidget.errors import ClusterUnavailableError  # noqa: E402
from segwidget.preprocess import encode_jpeg  # noqa: E402
from segwidget.protocol import decode_mask, pack_ws, unpack_ws  # noqa: E402
from segwidget.scheduler import Scheduler  # noqa: E402
from segwidget.stream import Frame, Session, result_message  # noqa: E402
from segwidget.widget import SegWidget  # noqa: E402

websockets = pytest.importorskip("websockets")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

APP = app_name("fast")
OPTIONS = DeployOptions(
    replicas=2,
    cpus_per_replica=0.5,
    weights="random",
    backend="onnxruntime",
    max_batch=8,
    batch_wait_ms=40,  # long enough on 2 busy cores for frames of 8 clients to meet
    health_check_period_s=1.0,
)


@pytest.fixture(scope="module")
def cluster():
    connect.start_local(num_cpus=2)
    try:
        deploy(OPTIONS, timeout_s=240)
        yield "auto"
    finally:
        clear_remote_engines()
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def frames(photos):
    """Six distinct 640x480 JPEGs (4:3 is a bucket shape: no letterboxing, exact masks)."""
    out = []
    for img in photos.values():
        small = cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA)
        out += [encode_jpeg(small), encode_jpeg(np.ascontiguousarray(small[:, ::-1]))]
    return out


class Client:
    """One session streaming like a browser: the next frame goes once a reply came back."""

    def __init__(self, scheduler, frames, name, engine):
        self.frames, self.results, self.errors = frames, [], []
        self.cond = threading.Condition()
        self.running = True
        self.seq = 0
        # adapt=False: full-size frames, so masks compare with a local engine's
        self.session = Session(self, scheduler, "fast", engine=engine, name=name, adapt=False)

    def start(self):
        self._next()

    def _next(self):
        if self.running:
            self.seq += 1
            self.session.submit(Frame(self.seq, jpeg=self.frames[self.seq % len(self.frames)]))

    def _add(self, where, item):
        with self.cond:
            where.append(item)
            self.cond.notify_all()

    def on_result(self, session, frame, result):
        self._add(self.results, (frame.seq, result))
        self._next()

    def on_error(self, session, frame, error):
        self._add(self.errors, (frame.seq if frame else None, error))
        # a camera keeps its pace (here 10 FPS) while the tier is down, it does not spin
        threading.Timer(0.1, self._next).start()

    def on_stats(self, session, stats): ...
    def on_loading(self, session, profile): ...

    def on_ready(self, session, engine):
        self._next()

    def wait(self, predicate, timeout=120):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), (
                f"{self.session.name}: timed out with {len(self.results)} results, "
                f"errors {self.errors[-3:]}"
            )

    def stop(self):
        self.running = False
        self.session.close()


@pytest.fixture
def clients(cluster, frames):
    engine = get_remote_engine("fast", cluster)
    scheduler = Scheduler(workers=engine.concurrency)  # frames of many sessions in flight
    made = []

    def make(n):
        for i in range(n):
            c = Client(scheduler, frames, f"client-{i}", engine)
            made.append(c)
        for c in made[-n:]:
            c.start()
        return made[-n:]

    yield make
    for c in made:
        c.stop()
    scheduler.stop()


def test_two_replicas_batch_across_sessions_and_match_a_local_engine(clients, frames):
    group = clients(8)
    for c in group:
        c.wait(lambda c=c: len(c.results) >= 6)
    results = [r for c in group for _, r in c.results]
    assert not [e for c in group for e in c.errors]
    assert {r.extra["replica"] for r in results} == set(_replica_ids())  # both served
    assert len(set(_replica_ids())) == 2
    batches = [r.extra["batch"] for r in results]
    assert max(batches) > 1, f"no batch formed across 8 sessions: {batches}"
    local = Engine("fast", weights="random", backend="onnxruntime")
    for c in group:
        for seq, r in c.results[:3]:
            want = local.segment_jpeg(c.frames[seq % len(c.frames)]).mask
            assert r.mask.shape == want.shape
            assert np.array_equal(r.mask, want)
    stats = group[0].session.engine.cluster_stats()
    assert stats["replicas"] == 2
    assert not stats["degraded"]
    assert {row["replica"] for row in stats["per_replica"]} == set(_replica_ids())
    assert all(row["requests"] > 0 and row["mean_batch"] >= 1 for row in stats["per_replica"])
    # every frame is 640x480, one shape bucket: each batch, whatever its size, is one call
    for row in stats["per_replica"]:
        assert row["model_calls"] == row["batches"], row
    assert sum(row["requests"] for row in stats["per_replica"]) > sum(
        row["model_calls"] for row in stats["per_replica"]
    )  # fewer engine calls than frames: batches ran as one tensor


# -- the person profile's confidence through the cluster ----------------------------------
@pytest.fixture(scope="module")
def person(cluster):
    deploy(
        DeployOptions(
            profiles=("person",), replicas=1, cpus_per_replica=0.5, backend="onnxruntime",
            max_batch=8, batch_wait_ms=40, health_check_period_s=1.0,
        ),
        timeout_s=240,
    )  # fmt: skip
    yield get_remote_engine("person", cluster)
    shutdown(["person"])


class _Sink:
    """A session's sink keeping its results, and the binary protocol's result message."""

    def __init__(self):
        self.results, self.errors, self.cond = [], [], threading.Condition()

    def on_result(self, session, frame, result):
        message = result_message(frame, result, confidence=session.want_confidence)
        with self.cond:
            self.results.append((result, message))
            self.cond.notify_all()

    def on_error(self, session, frame, error):
        with self.cond:
            self.errors.append(error)
            self.cond.notify_all()

    def on_stats(self, *a): ...
    def on_loading(self, *a): ...
    def on_ready(self, *a): ...

    def next(self, n, timeout=60):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.results) >= n or self.errors, timeout)
            assert not self.errors, self.errors
            return self.results[n - 1]


def test_person_confidence_through_the_cluster_matches_a_local_engine(person, frames):
    local_engine = Engine("person", backend="onnxruntime")
    scheduler = Scheduler(workers=2)
    sink = _Sink()
    session = Session(sink, scheduler, "person", engine=person, name="person", adapt=False)
    local_sink = _Sink()
    local = Session(local_sink, scheduler, "person", engine=local_engine, adapt=False)
    try:
        # not asked: no confidence in the reply (the replica neither deflates nor sends it)
        session.submit(Frame(1, jpeg=frames[0]))
        result, (header, buffers) = sink.next(1)
        assert result.confidence is None
        assert "deflated_confidence" not in result.extra
        assert "confidence" not in header
        assert len(buffers) == 1
        # asked (the view's `options`), the same frame on the cluster and on a local engine
        for s in (session, local):
            s.apply_options({"type": "options", "confidence": True})
        session.submit(Frame(2, jpeg=frames[0]))
        local.submit(Frame(2, jpeg=frames[0]))
        result, (header, buffers) = sink.next(2)
        want, (want_header, want_buffers) = local_sink.next(1)
        assert want.confidence is not None
        assert result.confidence.shape == want.confidence.shape == result.mask.shape
        diff = np.abs(result.confidence.astype(int) - want.confidence.astype(int))
        assert diff.max() <= 1
        assert np.array_equal(result.mask, want.mask)
        assert header["confidence"] == want_header["confidence"]
        assert len(buffers) == len(want_buffers) == 2
        c = header["confidence"]
        sent = decode_mask(buffers[1], c["width"], c["height"], c["encoding"])
        assert np.array_equal(sent, result.confidence)
        assert result.extra["model"] == want.extra["model"]
        # a kernel-side effect (the widget's viz_mode) asks too, without the view's options
        session.apply_options({"confidence": False})
        session.confidence_needed = lambda: True
        session.submit(Frame(3, jpeg=frames[1]))
        result, (header, _) = sink.next(3)
        assert result.confidence is not None
        assert "confidence" not in header  # the view did not ask: not on the wire
    finally:
        session.close()
        local.close()
        scheduler.stop()


def test_another_cluster_address_is_refused_by_name(cluster):
    with pytest.raises(ClusterUnavailableError, match=r"127\.0\.0\.1:9") as info:
        RemoteEngine("fast", cluster="127.0.0.1:9")
    assert not info.value.recoverable


# -- the transports on the cluster ----------------------------------------------------------
TOKEN = "cluster-test-token-0123"


async def _expect(ws, kind, timeout=60.0, seen=None):
    """The next ``kind`` message; ``stats`` met on the way are appended to ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        header, buffers = unpack_ws(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if header["type"] == kind:
            return header, buffers
        assert header["type"] in ("stats", "loading"), header
        if header["type"] == "stats" and seen is not None:
            seen.append(header)


def test_segwidget_serve_on_the_cluster_speaks_both_protocols(cluster, frames):
    from segwidget.server.background import BackgroundServer
    from segwidget.server.config import ServerConfig

    config = ServerConfig(port=0, weights="random", token=TOKEN, cluster=cluster)
    server = BackgroundServer(config).start()
    url = server.base_url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
    local = Engine("fast", weights="random", backend="onnxruntime")
    jpeg = frames[0]

    async def go():
        async with websockets.connect(url, max_size=None, open_timeout=30) as ws:
            await ws.send(pack_ws({"type": "init", "config": {"binary": True}}))
            ready, _ = await _expect(ws, "ready")
            assert ready["info"]["cluster"] == cluster
            assert ready["info"]["app"] == APP
            await ws.send(pack_ws({"type": "frame", "seq": 7}, [jpeg]))
            head, bufs = await _expect(ws, "result")
            h, w = head["mask"]["height"], head["mask"]["width"]
            mask = decode_mask(bufs[0], w, h, head["mask"]["encoding"])
            assert np.array_equal(mask, local.segment_jpeg(jpeg).mask)
            assert head["timings"]["cluster"] >= 0
            seen: list[dict] = []
            for seq in range(8, 80):  # stats come about once a second, after a frame
                await ws.send(pack_ws({"type": "frame", "seq": seq}, [jpeg]))
                await _expect(ws, "result", seen=seen)
                if seen:
                    break
            assert seen, "no stats message"
            assert seen[0]["stats"]["cluster"]["replicas"] >= 1
            assert seen[0]["stats"]["cluster"]["degraded"] in (True, False)

            await ws.send(pack_ws({"type": "init", "config": {}}))  # the spec's JSON protocol
            await _expect(ws, "connected")
            data = base64.b64encode(jpeg).decode()
            await ws.send(pack_ws({"type": "frame", "data": data, "timestamp": 5.0}))
            seg, _ = await _expect(ws, "segmentation")
            png = cv2.imdecode(np.frombuffer(base64.b64decode(seg["data"]), np.uint8), -1)
            assert png.shape[:2] == (480, 640)  # the composite over the frame, at its size

    try:
        asyncio.run(asyncio.wait_for(go(), 120))
    finally:
        server.stop()


class _Widget(SegWidget):
    def __init__(self, *args, **kwargs):
        self.sent, self.cond = [], threading.Condition()
        super().__init__(*args, **kwargs)

    def send(self, content, buffers=None):
        with self.cond:
            self.sent.append((content, [bytes(b) for b in buffers or []]))
            self.cond.notify_all()

    def wait_for(self, kind, timeout=60):
        def find():
            return next((m for m in self.sent if m[0]["type"] == kind), None)

        with self.cond:
            assert self.cond.wait_for(lambda: find() is not None, timeout), self.sent[-3:]
            return find()


def test_segwidget_on_the_cluster_through_the_comm_path(cluster, frames):
    w = _Widget(weights="random", cluster=cluster)
    try:
        ready, _ = w.wait_for("ready")
        assert ready["info"]["app"] == APP
        header = {"type": "frame", "seq": 3, "t_capture": 1.0}
        w._handle_msg(
            {"content": {"data": {"method": "custom", "content": header}},
             "buffers": [memoryview(frames[1])]}
        )  # fmt: skip
        head, bufs = w.wait_for("result")
        h, width = head["mask"]["height"], head["mask"]["width"]
        want = Engine("fast", weights="random", backend="onnxruntime").segment_jpeg(frames[1])
        assert np.array_equal(decode_mask(bufs[0], width, h, "deflate"), want.mask)
        latest = w.latest(timeout=30)
        assert latest.frame.shape == (480, 640, 3)  # decoded here for r.frame, r.overlay()
    finally:
        w.close()


def test_a_killed_replica_costs_at_most_the_frames_in_flight(clients):
    group = clients(4)
    for c in group:
        c.wait(lambda c=c: len(c.results) >= 2)
    before = set(_replica_ids())
    victim = sorted(before)[0]
    counts = [len(c.results) for c in group]
    ray.kill(_replica_actor(victim), no_restart=True)
    for c, n in zip(group, counts, strict=True):  # every session keeps receiving results
        c.wait(lambda c=c, n=n: len(c.results) >= n + 4)
    # Serve brings the replica back: two running again, one of them new
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = connect.serve_state([APP])[APP]
        now = set(_replica_ids())
        if state["running"] == 2 and len(now - before) >= 1:
            break
        _wait_a_little()
    else:
        pytest.fail(f"the killed replica was not replaced: {state}, {now}")
    lost = [e for c in group for e in c.errors]
    assert len(lost) <= len(group)  # each session has one frame in flight at most
    for _, err in lost:
        assert isinstance(err, ClusterUnavailableError)
        assert err.recoverable
    for c in group:  # sessions carry on after the replacement too
        n = len(c.results)
        c.wait(lambda c=c, n=n: len(c.results) >= n + 2)


def test_tier_lost_mid_stream_gives_recoverable_errors_then_resumes(clients):
    (client,) = clients(1)
    client.wait(lambda: len(client.results) >= 2)
    shutdown(["fast"])
    client.wait(lambda: len(client.errors) >= 1)
    _, err = client.errors[0]
    assert isinstance(err, ClusterUnavailableError)
    assert err.recoverable
    assert f"at auto ({APP})" in str(err)
    engine = get_remote_engine("fast", "auto")
    assert engine.cluster_stats()["degraded"]
    n = len(client.results)
    deploy(dataclasses.replace(OPTIONS, replicas=1), timeout_s=240)
    client.wait(lambda: len(client.results) >= n + 3, timeout=120)


# -- helpers ------------------------------------------------------------------------------
def _replica_actors() -> dict[str, str]:
    out = {}
    for a in ray.util.list_named_actors(all_namespaces=True):
        name = a["name"]
        if name.startswith("SERVE_REPLICA::") and f"{APP}#" in name:
            out[name.rsplit("#", 1)[-1]] = name
    return out


def _replica_ids() -> list[str]:
    """Replicas Serve has running now (dead ones leave the named-actor list)."""
    alive = []
    for rid, name in _replica_actors().items():
        try:
            ray.get_actor(name, namespace="serve")
            alive.append(rid)
        except ValueError:
            pass
    return alive


def _replica_actor(replica_id: str):
    return ray.get_actor(_replica_actors()[replica_id], namespace="serve")


def _wait_a_little() -> None:
    """Pause between polls of Serve's state (the controller offers no event to wait on)."""
    threading.Event().wait(0.25)
