"""The model tier's pure parts, without a Ray cluster: buckets, deploy options and Serve
config (GPU placement included), the CLI, the scheduler's cross-session concurrency, the
``--cluster`` / ``cluster=`` / ``$SEGWIDGET_CLUSTER`` wiring, and that nothing imports Ray
unless a cluster is used."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from segwidget.cluster.buckets import (
    PAD_RGB,
    bucket_shapes,
    choose_bucket,
    letterbox,
    unletterbox,
)
from segwidget.cluster.config import (
    DeployOptions,
    app_name,
    deployment_options,
    dump_config,
    engine_args,
    parse_autoscale,
    serve_config,
)
from segwidget.profiles import PROFILES, input_hw
from segwidget.scheduler import Scheduler
from segwidget.stream import Frame, Session

ROOT = Path(__file__).resolve().parent.parent
HAS_RAY = importlib.util.find_spec("ray") is not None


# -- buckets ------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", list(PROFILES))
def test_common_webcam_aspects_are_buckets_and_need_no_padding(profile):
    p = PROFILES[profile]
    buckets = bucket_shapes(p.cpu_size, p.multiple)
    for h, w in [(480, 640), (720, 1280), (1080, 1920), (640, 480), (1280, 720), (500, 500)]:
        hw = input_hw(h, w, p.cpu_size, p.multiple)
        assert choose_bucket(hw, buckets) == hw


def test_odd_aspects_go_to_the_smallest_bucket_that_holds_them():
    buckets = bucket_shapes(320, 16)
    hw = input_hw(1000, 1500, 320, 16)  # 3:2, between 16:9 and 4:3
    bucket = choose_bucket(hw, buckets)
    assert bucket == input_hw(3, 4, 320, 16)
    assert bucket[0] >= hw[0]
    assert bucket[1] >= hw[1]
    assert choose_bucket(input_hw(480, 640, 320, 16), buckets) == bucket  # they batch together
    # adaptive quality's smaller sizes have buckets of their own: no padding either
    small = input_hw(480, 640, 192, 16)
    assert choose_bucket(small, bucket_shapes(192, 16)) == small


def test_a_shape_no_bucket_holds_is_its_own_batch():
    assert choose_bucket((400, 400), [(240, 320), (320, 320)]) == (400, 400)


def test_letterbox_centres_and_unletterbox_restores():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (208, 320, 3), np.uint8)
    padded, (top, left) = letterbox(img, (240, 320))
    assert padded.shape == (240, 320, 3)
    assert (top, left) == (16, 0)
    assert np.array_equal(padded[top : top + 208], img)
    assert (padded[:top] == PAD_RGB).all()
    assert (padded[top + 208 :] == PAD_RGB).all()
    mask = padded[..., 0]  # any bucket-sized array: the image's part comes back exactly
    assert np.array_equal(unletterbox(mask, (208, 320), (top, left)), img[..., 0])
    same, off = letterbox(img, (208, 320))
    assert same is img
    assert off == (0, 0)
    with pytest.raises(ValueError, match="does not fit"):
        letterbox(img, (100, 320))


# -- options and Serve config -------------------------------------------------------------
def test_gpu_placement_batching_and_replicas_in_deployment_options():
    opts = DeployOptions(gpus_per_replica=0.5, replicas=3, max_batch=4, batch_wait_ms=20)
    d = deployment_options(opts)
    assert d["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.5}
    assert d["num_replicas"] == 3
    assert "autoscaling_config" not in d
    assert d["user_config"] == {"max_batch_size": 4, "batch_wait_timeout_s": 0.02}
    assert d["max_ongoing_requests"] >= 4
    cpu = deployment_options(DeployOptions())
    assert "num_gpus" not in cpu["ray_actor_options"]  # Serve then hides the GPUs: CPU engine


def test_autoscale_replaces_fixed_replicas():
    d = deployment_options(DeployOptions(autoscale=parse_autoscale("0:4"), max_batch=6))
    assert "num_replicas" not in d
    assert d["autoscaling_config"]["min_replicas"] == 0
    assert d["autoscaling_config"]["max_replicas"] == 4
    assert d["autoscaling_config"]["target_ongoing_requests"] == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profiles": ("nope",)}, "unknown profile"),
        ({"replicas": 0}, "replicas"),
        ({"autoscale": (3, 1)}, "autoscale"),
        ({"max_batch": 0}, "max_batch"),
        ({"batch_wait_ms": -1}, "batch_wait_ms"),
        ({"max_batch": 8, "max_ongoing_requests": 4}, "max_ongoing_requests"),
        ({"gpus_per_replica": -1}, "gpus"),
    ],
)
def test_bad_options_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeployOptions(**kwargs)


def test_parse_autoscale_errors():
    with pytest.raises(ValueError, match="MIN:MAX"):
        parse_autoscale("4")


def test_serve_config_has_one_application_per_profile():
    opts = DeployOptions(profiles=("fast", "accurate"), gpus_per_replica=1, weights="random")
    cfg = serve_config(opts)
    assert cfg["proxy_location"] == "Disabled"
    names = [a["name"] for a in cfg["applications"]]
    assert names == [app_name("fast"), app_name("accurate")]
    accurate = cfg["applications"][1]
    assert (
        accurate["args"]
        == engine_args(opts, "accurate")
        == {
            "profile": "accurate",
            "weights": "random",
            "max_batch": 8,  # what a TensorRT engine's profile is built for
        }
    )
    assert accurate["deployments"][0]["ray_actor_options"]["num_gpus"] == 1
    import yaml

    assert yaml.safe_load(dump_config(cfg)) == cfg


@pytest.mark.skipif(not HAS_RAY, reason="needs ray[serve]: pip install 'segwidget[cluster]'")
def test_serve_config_validates_against_serves_schema():
    from ray.serve.schema import ServeDeploySchema

    cfg = serve_config(DeployOptions(profiles=("fast", "balanced"), autoscale=(1, 4)))
    schema = ServeDeploySchema.model_validate(cfg)
    assert [a.name for a in schema.applications] == ["segwidget-fast", "segwidget-balanced"]


def test_cluster_cli_writes_a_config_file(tmp_path, capsys):
    from segwidget.cli import main

    out = tmp_path / "segwidget-serve.yaml"
    assert main(["cluster", "config", "--profile", "fast", "--gpus-per-replica", "1",
                 "--max-batch", "4", "-o", str(out)]) == 0  # fmt: skip
    import yaml

    cfg = yaml.safe_load(out.read_text())
    dep = cfg["applications"][0]["deployments"][0]
    assert dep["ray_actor_options"]["num_gpus"] == 1
    assert dep["user_config"]["max_batch_size"] == 4
    assert main(["cluster", "deploy", "--max-batch", "0"]) == 2
    assert "max_batch" in capsys.readouterr().err


# -- no Ray unless a cluster is used ----------------------------------------------------
def test_segwidget_and_a_local_engine_never_import_ray():
    code = (
        "import sys, segwidget, segwidget.cli, segwidget.cluster, segwidget.cluster.client\n"
        "from segwidget.stream import load_engine\n"
        "segwidget.cli.build_parser()\n"
        "e = load_engine('fast', weights='random')\n"
        "e.segment(__import__('numpy').zeros((48, 64, 3), 'uint8'))\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]


@pytest.mark.skipif(not HAS_RAY, reason="needs ray[serve]: pip install 'segwidget[cluster]'")
def test_unreachable_cluster_at_start_names_the_address():
    code = (
        "from segwidget.stream import load_engine\n"
        "from segwidget.errors import ClusterUnavailableError\n"
        "try:\n"
        "    load_engine('fast', cluster='127.0.0.1:9')\n"
        "except ClusterUnavailableError as exc:\n"
        "    assert not exc.recoverable\n"
        "    print('ERROR', exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "ERROR cannot reach the Ray cluster at 127.0.0.1:9" in out


def test_engine_infer_batch_gives_each_frames_own_mask(fast_engine, photos):
    from segwidget.preprocess import resize, to_nchw

    h, w = fast_engine.model_hw(480, 640)
    frames = [resize(img, h, w) for img in photos.values()]
    masks, soft = fast_engine.infer_batch(np.concatenate([to_nchw(f) for f in frames]))
    assert masks.shape == (len(frames), h, w)
    assert soft is None
    for frame, mask in zip(frames, masks, strict=True):
        assert np.array_equal(mask, fast_engine.segment(frame).mask)


# -- the transports' cluster wiring (no Ray cluster: an address nothing listens on) --------
@pytest.mark.skipif(not HAS_RAY, reason="needs ray[serve]: pip install 'segwidget[cluster]'")
def test_segwidget_serve_with_an_unreachable_cluster_exits_naming_it():
    cmd = [sys.executable, "-m", "segwidget.cli", "serve", "--cluster", "127.0.0.1:9",
           "--weights", "random", "--port", "0"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEGWIDGET_CLUSTER", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "from the cluster at 127.0.0.1:9" in proc.stdout
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in proc.stderr


@pytest.mark.skipif(not HAS_RAY, reason="needs ray[serve]: pip install 'segwidget[cluster]'")
def test_segwidget_with_an_unreachable_cluster_from_the_env_shows_the_error():
    code = (
        "import threading\n"
        "from segwidget import SegWidget\n"
        "w = SegWidget(weights='random')  # cluster: $SEGWIDGET_CLUSTER\n"
        "done = threading.Event()\n"
        "w.observe(lambda change: done.set(), names='error')\n"
        "assert done.wait(60) or w.error is not None, 'no error'\n"
        "print('ERROR', w.error['code'], w.error['recoverable'], w.error['message'])\n"
        "w.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGWIDGET_CLUSTER": "127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "ERROR CLUSTER_UNAVAILABLE False cannot reach the Ray cluster at 127.0.0.1:9" in out


def test_cluster_is_an_engine_kwarg_only_when_asked(monkeypatch):
    import argparse

    from segwidget.server.config import add_arguments, config_from_args

    def config(*argv):
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        return config_from_args(parser.parse_args(list(argv)))

    monkeypatch.delenv("SEGWIDGET_CLUSTER", raising=False)
    assert config().cluster is None
    assert "cluster" not in config().engine_kwargs  # without a cluster nothing changes
    assert config("--cluster", "ray://head:10001").engine_kwargs["cluster"] == "ray://head:10001"
    monkeypatch.setenv("SEGWIDGET_CLUSTER", "head:6379")
    assert config().engine_kwargs["cluster"] == "head:6379"
    assert config("--cluster", "other:6379").cluster == "other:6379"  # the flag wins


# -- the scheduler keeps several sessions in flight, each one frame at a time ---------------
class _SlowEngine:
    """Stands in for a remote engine: blocks each call until the test releases it."""

    concurrency = 4
    input_size = 320
    max_side = 1920

    def __init__(self):
        self.per_session: dict[int, int] = {}  # calls in flight per session
        self.peak = 0
        self.peak_per_session = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.all_in = threading.Event()
        self.info = {}
        self.profile = PROFILES["fast"]

    def segment(self, rgb, size=None, confidence=True):
        key = int(rgb[0, 0, 0])  # the session's number, painted into its frames
        with self.lock:
            self.per_session[key] = self.per_session.get(key, 0) + 1
            self.peak_per_session = max(self.peak_per_session, self.per_session[key])
            self.peak = max(self.peak, sum(self.per_session.values()))
            if sum(self.per_session.values()) == 3:
                self.all_in.set()
        assert self.release.wait(30)
        with self.lock:
            self.per_session[key] -= 1
        raise RuntimeError("done")  # the session reports it; the result does not matter here


class _Sink:
    def __init__(self):
        self.errors = []
        self.cond = threading.Condition()

    def on_error(self, session, frame, error):
        with self.cond:
            self.errors.append((session.name, frame.seq))
            self.cond.notify_all()

    def on_result(self, *a): ...
    def on_stats(self, *a): ...
    def on_ready(self, *a): ...
    def on_loading(self, *a): ...


def test_scheduler_serves_sessions_concurrently_but_each_one_frame_at_a_time():
    engine, sink = _SlowEngine(), _Sink()
    scheduler = Scheduler(inference_timeout_s=0)
    scheduler.ensure_workers(engine.concurrency)
    assert len(scheduler.workers) == 4
    try:
        sessions = [
            Session(sink, scheduler, engine=engine, name=f"s{i}", adapt=False) for i in range(3)
        ]
        for i, s in enumerate(sessions):
            s.submit(Frame(seq=0, rgb=np.full((8, 8, 3), i, np.uint8)))
        assert engine.all_in.wait(30)  # three sessions in flight at once
        for i, s in enumerate(sessions):  # while busy, a session's next frame waits in its slot
            s.submit(Frame(seq=1, rgb=np.full((8, 8, 3), i, np.uint8)))
            assert s.queue_size == 1
        engine.release.set()
        with sink.cond:
            assert sink.cond.wait_for(lambda: len(sink.errors) == 6, 30)
        assert engine.peak == 3
        assert engine.peak_per_session == 1  # never two frames of one session at once
        for s in sessions:
            assert [q for n, q in sink.errors if n == s.name] == [0, 1]
    finally:
        scheduler.stop()


# -- which frames ask a remote engine for the confidence -------------------------------------
class _RecordingEngine:
    """Records the ``confidence`` each call asks for (what a RemoteEngine sends replicas)."""

    input_size = 256
    max_side = 1920
    profile = PROFILES["person"]
    info: dict = {}  # noqa: RUF012

    def __init__(self):
        self.asked: list[bool] = []
        self.cond = threading.Condition()

    def segment(self, rgb, size=None, confidence=True):
        from segwidget.engine import SegResult

        with self.cond:
            self.asked.append(confidence)
            self.cond.notify_all()
        return SegResult(np.zeros((4, 4), np.uint8), [(0, 1.0)], ["background", "person"], {})


def test_a_session_asks_for_the_confidence_only_while_something_needs_it():
    engine, sink = _RecordingEngine(), _Sink()
    scheduler = Scheduler(workers=1)
    session = Session(sink, scheduler, "person", engine=engine, adapt=False)

    def frame(seq):
        session.submit(Frame(seq, rgb=np.zeros((8, 8, 3), np.uint8)))
        with engine.cond:
            assert engine.cond.wait_for(lambda: len(engine.asked) == seq, 30)
        return engine.asked[-1]

    try:
        assert frame(1) is False  # nothing needs it: the default
        session.apply_options({"type": "options", "confidence": True})  # the view's effects
        assert frame(2) is True
        session.apply_options({"confidence": False})
        assert frame(3) is False
        wants = [True]
        session.confidence_needed = lambda: wants[0]  # a transport's own reason
        assert frame(4) is True
        wants[0] = False
        assert frame(5) is False
    finally:
        session.close()
        scheduler.stop()


def test_the_widget_needs_the_confidence_in_its_effect_modes():
    from segwidget.widget import SegWidget

    w = SegWidget(weights="random")
    try:
        session = w._session
        assert not session.needs_confidence()
        for mode in ("blur", "replace", "confidence"):
            w.viz_mode = mode
            assert session.needs_confidence(), mode
        w.viz_mode = "contour"
        assert not session.needs_confidence()
    finally:
        w.close()


# -- RemoteEngine against a replica's batching, over a loopback handle (no Ray) --------------
class _Call:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def result(self, timeout_s=None):
        return self.fn(*self.args)


class _Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        return _Call(self.fn, args)


class _LoopbackHandle:
    """A Serve handle's surface (``handle.method.remote(...).result()``) in front of what a
    replica runs (:mod:`segwidget.cluster.batching`) on a real local engine: each request
    is a batch of one, its reply as a replica sends it."""

    def __init__(self, engine):
        from segwidget.cluster.batching import Buckets

        self.engine, self.buckets = engine, Buckets(engine)
        self.requests: list[dict] = []
        self.info = _Method(lambda: {**engine.info, "replica": "r0", "node": "here"})
        self.segment = _Method(self._segment)

    def _segment(self, request):
        from segwidget.cluster.batching import prepare, run_batch

        self.requests.append(request)
        (reply,), _ = run_batch(self.engine, [prepare(self.engine, self.buckets, request, 0.0)])
        return {**reply, "replica": "r0", "replica_ms": 1.0, "stats": None}


def test_remote_engine_gets_the_confidence_exactly_when_it_asks(monkeypatch, photo):
    from segwidget.cluster import client, connect
    from segwidget.engine import get_engine
    from segwidget.preprocess import encode_jpeg
    from segwidget.stream import result_message

    local = get_engine("person")
    handle = _LoopbackHandle(local)
    monkeypatch.setattr(connect, "ensure_ray", lambda address: None)
    monkeypatch.setattr(connect, "app_handle", lambda app, address: handle)
    remote = client.RemoteEngine("person", cluster="loopback")
    jpeg = encode_jpeg(photo)
    want = local.segment_jpeg(jpeg)

    plain = remote.segment_jpeg(jpeg, confidence=False)
    assert handle.requests[-1]["confidence"] is False
    assert plain.confidence is None
    assert np.array_equal(plain.mask, want.mask)

    soft = remote.segment_jpeg(jpeg)  # as a local engine: with the confidence by default
    assert handle.requests[-1]["confidence"] is True
    assert np.array_equal(soft.confidence, want.confidence)
    assert soft.extra["model"] == want.extra["model"]
    header, buffers = result_message(Frame(1), soft, confidence=True)
    want_header, want_buffers = result_message(Frame(1), want, confidence=True)
    assert header["confidence"] == want_header["confidence"]
    assert buffers[1] == soft.extra["deflated_confidence"]  # the replica's bytes, as sent
    assert zlib.decompress(buffers[1]) == zlib.decompress(want_buffers[1])
    rgb = remote.segment(photo, confidence=True)  # raw pixels at model size
    assert "pixels" in handle.requests[-1]
    assert rgb.confidence is not None
    assert rgb.confidence.shape == rgb.mask.shape

    fast = client.RemoteEngine.__new__(client.RemoteEngine)  # a profile without one never asks
    fast.profile = PROFILES["fast"]
    assert fast._soft(True) is False
