"""Model faults injected with fake engines: a failed load, an inference that raises, one that
hangs (the scheduler's watchdog), GPU out-of-memory. Deterministic: no sleeps, no timing."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch

from segwidget import scheduler as scheduling
from segwidget import stream
from segwidget.engine import SegResult
from segwidget.errors import GpuOutOfMemoryError
from segwidget.gpu_memory import is_out_of_memory, run_with_oom_retry
from segwidget.profiles import get_profile
from segwidget.scheduler import Scheduler
from segwidget.stream import Frame, Session, error_message


class FakeEngine:
    """Segments instantly; ``raise_next`` raises on the next calls, ``hold`` blocks them."""

    input_size = 320
    profile = get_profile("fast")

    def __init__(self, name="fake"):
        self.info = {"backend": "fake", "device": "cpu", "profile": name}
        self.name = name
        self.calls = 0
        self.raise_next: list[Exception] = []
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def segment_jpeg(self, data, size=None, confidence=True):
        self.calls += 1
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(60)
        if self.raise_next:
            raise self.raise_next.pop(0)
        mask = np.full((2, 3), self.calls % 256, np.uint8)
        return SegResult(mask, [(0, 1.0)], ["background"], {}, None, self.name)


class Sink:
    def __init__(self):
        self.results, self.errors, self.ready = [], [], []
        self.cond = threading.Condition()

    def _add(self, where, item):
        with self.cond:
            where.append(item)
            self.cond.notify_all()

    def on_result(self, session, frame, result):
        self._add(self.results, (frame.seq, result.profile))

    def on_error(self, session, frame, error):
        self._add(self.errors, (None if frame is None else frame.seq, error_message(error)))

    def on_stats(self, session, stats):
        pass

    def on_ready(self, session, engine):
        self._add(self.ready, engine)

    def on_loading(self, session, profile):
        pass

    def wait(self, predicate):
        with self.cond:
            assert self.cond.wait_for(predicate, 60), "timed out"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def scheduler(clock):
    s = Scheduler(inference_timeout_s=5, clock=clock)
    yield s
    s.stop()


def frame(seq):
    return Frame(seq=seq, jpeg=b"jpeg")


def test_an_inference_that_raises_once_is_one_recoverable_error(scheduler):
    engine, sink = FakeEngine(), Sink()
    session = Session(sink, scheduler, engine=engine)
    engine.raise_next.append(RuntimeError("kaboom"))
    session.submit(frame(1))
    sink.wait(lambda: sink.errors)
    session.submit(frame(2))
    sink.wait(lambda: sink.results)
    assert sink.errors == [
        (
            1,
            {
                "type": "error",
                "code": "INFERENCE_FAILED",
                "message": "RuntimeError: kaboom",
                "recoverable": True,
            },
        )
    ]
    assert sink.results == [(2, "fake")]
    assert session.stats.errors == 1


def test_a_failed_load_keeps_the_previous_engine_serving(scheduler, monkeypatch):
    engine, sink = FakeEngine(), Sink()
    session = Session(sink, scheduler, profile="fast", engine=engine)

    def broken_get_engine(profile, **kwargs):
        raise OSError(f"cannot read the weights of {profile}")

    monkeypatch.setattr(stream, "get_engine", broken_get_engine)
    session.switch("balanced").join(30)
    assert sink.errors[0][0] is None  # not about a frame
    error = sink.errors[0][1]
    assert error["code"] == "MODEL_LOAD_FAILED"
    assert "cannot read the weights of balanced" in error["message"]
    assert session.engine is engine
    assert session.profile == "fast"
    session.submit(frame(1))
    sink.wait(lambda: sink.results)
    assert sink.results == [(1, "fake")]


def test_a_hung_inference_is_reported_and_other_sessions_keep_streaming(scheduler, clock):
    hung, healthy = FakeEngine("hung"), FakeEngine("healthy")
    hung.hold = threading.Event()
    sink_a, sink_b = Sink(), Sink()
    a = Session(sink_a, scheduler, engine=hung, name="a")
    b = Session(sink_b, scheduler, engine=healthy, name="b")
    (first_worker,) = scheduler.workers

    a.submit(frame(1))
    assert hung.entered.wait(30)
    b.submit(frame(100))
    assert scheduler.check(clock.now + 4) == []  # within the timeout: nothing happens
    clock.now += 6
    sink_a.wait(lambda: sink_a.errors)  # the watchdog thread or this check reports it
    scheduler.check()
    assert sink_a.errors == [(1, sink_a.errors[0][1])]
    assert sink_a.errors[0][1]["code"] == "INFERENCE_TIMEOUT"
    assert sink_a.errors[0][1]["recoverable"] is True

    sink_b.wait(lambda: sink_b.results)  # a replacement worker serves b
    a.submit(frame(2))  # waits: its engine is still busy with frame 1
    b.submit(frame(101))
    sink_b.wait(lambda: len(sink_b.results) == 2)
    assert sink_b.results == [(100, "healthy"), (101, "healthy")]
    assert hung.calls == 1
    assert first_worker not in scheduler.workers

    hung.hold.set()  # the hung call returns: discarded; a's waiting frame is served
    first_worker.join(30)
    assert not first_worker.is_alive()
    sink_a.wait(lambda: sink_a.results)
    assert sink_a.results == [(2, "hung")]
    assert len(scheduler.workers) == 1
    assert len(sink_a.errors) == 1


def test_a_session_whose_inference_hung_streams_again_on_another_engine(
    scheduler, clock, monkeypatch
):
    # A worker holds a session while it segments (one frame per session in process, even
    # with several workers); the watchdog lets go of it, so after a switch it streams on.
    hung, healthy = FakeEngine("hung"), FakeEngine("healthy")
    hung.hold = threading.Event()
    sink = Sink()
    a = Session(sink, scheduler, profile="fast", engine=hung, name="a")
    a.submit(frame(1))
    assert hung.entered.wait(30)
    clock.now += 6
    sink.wait(lambda: sink.errors)
    assert sink.errors[0][1]["code"] == "INFERENCE_TIMEOUT"
    monkeypatch.setattr(stream, "get_engine", lambda profile, **kwargs: healthy)
    a.switch("balanced").join(30)
    a.submit(frame(2))
    sink.wait(lambda: sink.results)
    assert sink.results == [(2, "healthy")]
    assert hung.calls == 1
    hung.hold.set()


def test_the_watchdog_can_be_turned_off(clock):
    s = Scheduler(inference_timeout_s=0, clock=clock)
    try:
        engine, sink = FakeEngine(), Sink()
        engine.hold = threading.Event()
        Session(sink, s, engine=engine).submit(frame(1))
        assert engine.entered.wait(30)
        assert s.check(clock.now + 10**6) == []
        engine.hold.set()
        sink.wait(lambda: sink.results)
        assert not sink.errors
    finally:
        s.stop()


def test_inference_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEGWIDGET_INFERENCE_TIMEOUT_S", "12.5")
    assert scheduling.default_inference_timeout() == 12.5
    monkeypatch.setenv("SEGWIDGET_INFERENCE_TIMEOUT_S", "soon")
    assert scheduling.default_inference_timeout() == scheduling.DEFAULT_INFERENCE_TIMEOUT_S


# -- GPU out of memory (simulated: the exceptions the CUDA paths raise) -----------------------

OOM_ERRORS = [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError(
        "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : CUDA failure 2: out of memory ; "
        "GPU=0 ; expr=cudaMalloc(&p, size)"
    ),
    RuntimeError("[ONNXRuntimeError] : 6 : Failed to allocate memory for requested buffer"),
]


@pytest.mark.parametrize("error", OOM_ERRORS, ids=["torch", "ort-cuda", "ort-arena"])
def test_out_of_memory_errors_are_recognised(error):
    assert is_out_of_memory(error)
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_out_of_memory_frees_the_cache_and_retries_once(monkeypatch):
    freed = []
    monkeypatch.setattr("segwidget.gpu_memory.free_gpu_cache", lambda: freed.append(1))
    calls = iter([OOM_ERRORS[0], "mask"])

    def run():
        out = next(calls)
        if isinstance(out, Exception):
            raise out
        return out

    assert run_with_oom_retry(run, "fast") == "mask"
    assert freed == [1]


def test_engine_reports_persistent_out_of_memory_and_recovers(fast_engine, photo, scheduler):
    """Through a real Engine and Session: GPU_OUT_OF_MEMORY, then the next frame works."""
    from segwidget.preprocess import encode_jpeg

    engine = copy.copy(fast_engine)  # the pooled engine stays untouched
    real_run, failures = fast_engine._run, [OOM_ERRORS[1]] * 2

    def run(x):
        if failures:
            raise failures.pop()
        return real_run(x)

    engine._run = run
    engine._lock = threading.Lock()
    sink = Sink()
    session = Session(sink, scheduler, engine=engine)
    jpeg = encode_jpeg(photo)
    session.submit(Frame(seq=1, jpeg=jpeg))
    sink.wait(lambda: sink.errors)
    session.submit(Frame(seq=2, jpeg=jpeg))
    sink.wait(lambda: sink.results)
    (seq, error) = sink.errors[0]
    assert seq == 1
    assert error["code"] == "GPU_OUT_OF_MEMORY"
    assert error["recoverable"] is True
    assert "smaller input_size" in error["message"]
    assert sink.results == [(2, "fast")]
    with pytest.raises(GpuOutOfMemoryError):
        run_with_oom_retry(lambda: (_ for _ in ()).throw(OOM_ERRORS[2]), "x")
