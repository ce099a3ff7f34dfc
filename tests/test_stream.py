"""The streaming layer shared by the widget and the server, driven without a transport."""

import threading

import numpy as np
import pytest

from segwidget.engine import SegResult
from segwidget.errors import ProtocolError
from segwidget.preprocess import encode_jpeg
from segwidget.protocol import decode_mask
from segwidget.stream import (
    LIVE_MIN_FPS,
    Frame,
    Scheduler,
    Session,
    result_message,
    slow_note,
)


class RecordingSink:
    """Records what a session emits; ``gate`` lets a test hold the worker inside on_result."""

    def __init__(self):
        self.results, self.errors, self.stats, self.ready = [], [], [], []
        self.cond = threading.Condition()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def _add(self, where, item):
        with self.cond:
            where.append(item)
            self.cond.notify_all()

    def on_result(self, session, frame, result):
        self.entered.set()
        assert self.gate.wait(30)
        self._add(self.results, (frame, result_message(frame, result)))

    def on_error(self, session, frame, error):
        self._add(self.errors, (frame, error))

    def on_stats(self, session, stats):
        self._add(self.stats, stats)

    def on_ready(self, session, engine):
        self._add(self.ready, engine)

    def on_loading(self, session, profile):
        pass

    def wait(self, predicate, timeout=60):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), "timed out"


@pytest.fixture
def scheduler():
    s = Scheduler()
    yield s
    s.stop()


def _session(scheduler, sink, fast_engine):
    return Session(sink, scheduler, "fast", {"weights": "random"}, engine=fast_engine)


def test_frames_become_result_messages(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = _session(scheduler, sink, fast_engine)
    session.submit(Frame(seq=7, jpeg=encode_jpeg(photo), t_capture=123.5))
    sink.wait(lambda: sink.results)
    _frame, (header, buffers) = sink.results[0]
    assert header["type"] == "result"
    assert header["seq"] == 7
    assert header["t_capture"] == 123.5
    m = header["mask"]
    mask = decode_mask(buffers[0], m["width"], m["height"], m["encoding"])
    assert max(mask.shape) == fast_engine.input_size
    assert {"queue", "decode", "inference", "encode"} <= set(header["timings"])
    assert sum(f for _, f in header["classes"]) == pytest.approx(1.0, abs=1e-3)


def test_confidence_is_a_second_buffer_only_when_asked_and_present():
    mask = np.zeros((6, 8), np.uint8)
    mask[2:, 3:] = 15
    conf = (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8)
    seg = SegResult(mask=mask, class_ids=[(0, 0.5), (15, 0.5)], labels=[], timings={})
    seg.confidence = conf  # as the person profile's engine sets it
    frame = Frame(seq=3)
    header, buffers = result_message(frame, seg)  # not asked: the mask only
    assert len(buffers) == 1
    assert "confidence" not in header
    header, buffers = result_message(frame, seg, confidence=True)
    assert header["confidence"] == {"width": 8, "height": 6, "encoding": "deflate"}
    assert len(buffers) == 2
    np.testing.assert_array_equal(decode_mask(buffers[1], 8, 6), conf)
    np.testing.assert_array_equal(decode_mask(buffers[0], 8, 6), mask)
    seg.confidence = None  # a profile without confidence: nothing to send
    header, buffers = result_message(frame, seg, confidence=True)
    assert len(buffers) == 1
    assert "confidence" not in header


def test_options_message_sets_what_results_carry(scheduler, fast_engine):
    session = _session(scheduler, RecordingSink(), fast_engine)
    assert session.want_confidence is False
    session.apply_options({"type": "options", "confidence": True})
    assert session.want_confidence is True
    session.apply_options({"type": "options"})  # left out: kept
    assert session.want_confidence is True
    with pytest.raises(ProtocolError, match="must be true or false") as info:
        session.apply_options({"type": "options", "confidence": "yes"})
    assert info.value.code == "BAD_MESSAGE"
    assert session.want_confidence is True


def test_newest_frame_wins_under_a_burst(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = _session(scheduler, sink, fast_engine)
    jpeg = encode_jpeg(photo)
    sink.gate.clear()  # hold the worker inside the first result
    session.submit(Frame(seq=0, jpeg=jpeg))
    assert sink.entered.wait(30)
    for seq in range(1, 11):  # burst while busy: only the newest survives
        session.submit(Frame(seq=seq, jpeg=jpeg))
    assert session.queue_size == 1
    sink.gate.set()
    sink.wait(lambda: len(sink.results) == 2)
    assert [f.seq for f, _ in sink.results] == [0, 10]
    assert session.stats.frames_dropped == 9
    assert session.stats_snapshot()["frames_dropped"] == 9


def test_bad_frame_reports_an_error_and_the_stream_goes_on(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = _session(scheduler, sink, fast_engine)
    session.submit(Frame(seq=1, jpeg=b"not a jpeg"))
    sink.wait(lambda: sink.errors)
    frame, error = sink.errors[0]
    assert frame.seq == 1
    assert error.code == "BAD_JPEG"
    session.submit(Frame(seq=2, jpeg=encode_jpeg(photo)))
    sink.wait(lambda: sink.results)
    assert sink.results[0][0].seq == 2


def test_sessions_are_served_round_robin(scheduler, fast_engine, photo):
    """A flooding client cannot starve a quiet one: each gets one frame per turn."""
    sink_a, sink_b = RecordingSink(), RecordingSink()
    a = _session(scheduler, sink_a, fast_engine)
    b = _session(scheduler, sink_b, fast_engine)
    jpeg = encode_jpeg(photo)
    sink_a.gate.clear()
    a.submit(Frame(seq=0, jpeg=jpeg))
    assert sink_a.entered.wait(30)
    b.submit(Frame(seq=100, jpeg=jpeg))  # b queued behind a's frame in progress
    a.submit(Frame(seq=1, jpeg=jpeg))  # a floods again
    sink_a.gate.set()
    sink_b.wait(lambda: sink_b.results)
    sink_a.wait(lambda: len(sink_a.results) == 2)
    assert sink_b.results[0][0].seq == 100


def test_profile_switch_keeps_serving_until_the_new_engine_is_ready(scheduler, photo):
    sink = RecordingSink()
    session = Session(sink, scheduler, "fast", {"weights": "random", "input_size": 160})
    session.start().join(120)
    assert session.engine is not None
    assert session.profile == "fast"
    old = session.engine
    loader = session.switch("balanced")
    session.submit(Frame(seq=1, jpeg=encode_jpeg(photo)))  # served by whichever is current
    loader.join(120)
    assert session.profile == "balanced"
    assert session.engine is not old
    assert session.stats.switch_ms > 0
    session.submit(Frame(seq=2, jpeg=encode_jpeg(photo)))
    sink.wait(lambda: any(f.seq == 2 for f, _ in sink.results))
    header = next(h for f, (h, _) in sink.results if f.seq == 2)
    assert header["profile"] == "balanced"
    assert len(sink.ready) == 2


def test_failed_switch_reports_and_keeps_the_old_engine(scheduler, fast_engine):
    sink = RecordingSink()
    session = _session(scheduler, sink, fast_engine)
    session.engine_kwargs = {"weights": "/nonexistent/weights.pth"}
    session.switch("balanced").join(60)
    assert session.engine is fast_engine
    assert session.profile == "fast"
    _, error = sink.errors[0]
    assert error.code == "MODEL_LOAD_FAILED"
    assert "does not exist" in str(error)


def test_closed_session_takes_no_frames(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = _session(scheduler, sink, fast_engine)
    session.close()
    session.submit(Frame(seq=1, jpeg=encode_jpeg(photo)))
    assert session.queue_size == 0


def test_stats_say_when_a_profile_is_too_slow_for_live_video():
    note = slow_note("balanced", 770.0, "cpu")
    assert note.startswith("balanced: about 1.3 FPS on this CPU")
    assert "GPU" in slow_note("accurate", 400.0, "cuda")
    assert slow_note("fast", 1000.0 / LIVE_MIN_FPS - 1, "cpu") is None
    assert slow_note("fast", None, "cpu") is None


def test_session_stats_carry_the_slow_note(fast_engine):
    scheduler = Scheduler()
    session = Session(RecordingSink(), scheduler, engine=fast_engine)
    session.stats.record({"inference": 800.0})
    assert session.stats_snapshot()["slow"].startswith("fast: about 1.2 FPS on this CPU")
    for _ in range(4):
        session.stats.record({"inference": 20.0})  # mean 176 ms: keeps up
    assert session.stats_snapshot()["slow"] is None
    session.close()
    scheduler.stop()


def _feed(session, sink, jpeg, latency_ms, frames, first_seq=0):
    """Submit frames one at a time, each reporting ``latency_ms`` for the one before."""
    for i in range(frames):
        seq = first_seq + i
        fb = {"seq": seq - 1, "latency_ms": latency_ms}
        session.submit(Frame(seq=seq, jpeg=jpeg, feedback=fb))
        sink.wait(lambda seq=seq: any(f.seq == seq for f, _ in sink.results))
    return sink.results[-1][1]


def test_latency_over_budget_shrinks_the_model_input_and_says_so(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = Session(
        sink, scheduler, "fast", {"weights": "random"}, engine=fast_engine, latency_budget_ms=100
    )
    jpeg = encode_jpeg(photo)
    header, buffers = _feed(session, sink, jpeg, 50.0, 20)
    assert header["quality"] == {"input_size": 320, "max_fps": None, "adapted": False}
    assert session.stats_snapshot()["adapted"] is None
    window = session.adapter.window
    header, buffers = _feed(session, sink, jpeg, 500.0, window + 1, first_seq=100)
    assert header["quality"] == {"input_size": 256, "max_fps": None, "adapted": True}
    m = header["mask"]
    assert max(m["width"], m["height"]) == 256
    assert len(decode_mask(buffers[0], m["width"], m["height"], m["encoding"])) == m["height"]
    stats = session.stats_snapshot()
    assert stats["adapted"] == f"{m['width']}x{m['height']}"
    assert stats["latency_budget_ms"] == 100
    session.configure_adapt(enabled=False)  # off: straight back to full quality
    header, _ = _feed(session, sink, jpeg, 500.0, 1, first_seq=200)
    assert header["quality"]["input_size"] == 320
    assert max(header["mask"]["width"], header["mask"]["height"]) == 320
    with pytest.raises(ValueError, match="latency_budget_ms"):
        session.configure_adapt(budget_ms=-3)


def test_adapt_off_keeps_full_quality_however_slow(scheduler, fast_engine, photo):
    sink = RecordingSink()
    session = Session(sink, scheduler, "fast", engine=fast_engine, adapt=False)
    header, _ = _feed(session, sink, encode_jpeg(photo), 5000.0, session.adapter.window + 5)
    assert header["quality"]["adapted"] is False
    assert session.stats_snapshot()["latency_budget_ms"] is None


def test_stats_report_the_views_link_and_display():
    from segwidget.stats import StreamStats

    stats = StreamStats()
    assert stats.snapshot()["link"] is None
    assert stats.snapshot()["display"] is None
    link = {"link_base_ms": 210.0, "link_queue_ms": 12.0, "window": 7, "window_want": 8}
    for i, aligned in enumerate((1, 1, 0)):
        fb = {"seq": i, "latency_ms": 260.0, **link, "link_limited": 0, "up_kbps": 900.0}
        stats.record_feedback(Frame(seq=i + 1, feedback={**fb, "aligned": aligned}))
    snap = stats.snapshot()
    assert snap["link"] == {
        "base_ms": 210.0,
        "queue_ms": 12.0,
        "window": 7.0,
        "window_want": 8.0,
        "limited": 0.0,
        "up_kbps": 900.0,
    }
    assert snap["display"] == "aligned"  # most results of the last second
