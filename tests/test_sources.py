"""Kernel-side sources: the kernel reads frames (numpy frames, a video file, a camera) and each
``result`` carries the frame as a JPEG in buffer 1."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from test_widget import send_frame

from segwidget.protocol import decode_mask
from segwidget.sources import (
    CameraSource,
    IterableSource,
    SourceRunner,
    VideoFileSource,
    make_source,
)
from segwidget.stream import Frame
from tests.widget_doubles import TIMEOUT


def results(w):
    return [(c, b) for c, b in w.outbox.of("result")]


def finished(w):
    assert w.wait_source(TIMEOUT), "the source did not finish"
    return results(w)


def small(photos):
    return [cv2.resize(p, (160, 120), interpolation=cv2.INTER_AREA) for p in photos.values()]


def test_iterable_source_segments_every_frame_in_order(make_widget, photos):
    frames = list(photos.values())
    w = make_widget(source=iter(frames), jpeg_quality=95, resolution=[4096, 4096])
    assert w.source_kind == "kernel"
    got = finished(w)
    assert [c["seq"] for c, _ in got] == [1, 2, 3]
    for (header, buffers), rgb in zip(got, frames, strict=True):
        assert len(buffers) == 2
        h, w_ = rgb.shape[:2]
        assert header["frame"] == {"width": w_, "height": h, "encoding": "jpeg"}
        shown = cv2.cvtColor(cv2.imdecode(np.frombuffer(buffers[1], np.uint8), 1), 4)
        assert shown.shape == rgb.shape
        assert np.abs(shown.astype(int) - rgb).mean() < 4  # the view shows the frame
        m = header["mask"]
        mask = decode_mask(buffers[0], m["width"], m["height"], m["encoding"])
        assert m["width"] / m["height"] == pytest.approx(w_ / h, rel=0.1)
        assert mask.max() < 21
        assert "encode_frame" in header["timings"]
    np.testing.assert_array_equal(w.latest().frame, frames[-1])  # not re-encoded for Python
    assert w.running is False  # the end of the stream stops the widget
    assert w.error is None
    stats = w.outbox.of("stats")[-1][0]["stats"]  # a final report at the end
    assert stats["frames_processed"] == 3
    assert stats["frames_dropped"] == 0
    assert stats["latency_ms"] is not None  # capture to result sent, measured in the kernel


def test_frames_shown_are_shrunk_to_the_resolution(make_widget, photo):
    w = make_widget(source=[photo], resolution=[256, 256])
    ((header, buffers),) = finished(w)
    assert header["frame"]["width"] == 256
    assert header["frame"]["height"] == 256
    assert cv2.imdecode(np.frombuffer(buffers[1], np.uint8), 1).shape == (256, 256, 3)
    assert w.latest().frame.shape == photo.shape  # Python keeps the full frame


def test_bad_frames_in_an_iterable_are_reported_and_skipped(make_widget, photo):
    frames = [photo, np.zeros((10, 10), np.uint8), photo[..., :3].copy()]
    w = make_widget(source=frames)
    got = finished(w)
    assert [c["seq"] for c, _ in got] == [1, 3]
    err = next(c for c, _ in w.outbox.of("error"))
    assert err["code"] == "BAD_FRAME"
    assert err["seq"] == 2
    assert w.error is None  # recoverable, and frame 3 succeeded after it


def test_video_file_source(make_widget, photos, tmp_path):
    path = tmp_path / "clip.avi"
    frames = small(photos) * 3
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()

    every = VideoFileSource(path, realtime=False)
    assert every.fps is None
    assert every.frame_count == 9
    w = make_widget(source=every)
    got = finished(w)
    assert [c["seq"] for c, _ in got] == list(range(1, 10))
    assert all(c["frame"]["width"] == 160 for c, _ in got)
    assert np.abs(w.latest().frame.astype(int) - frames[-1]).mean() < 6

    realtime = make_widget(source=str(path))  # a path plays at the file's 25 fps
    assert realtime._source.fps == pytest.approx(25.0)
    got = finished(realtime)
    assert got, "no result at all"
    assert got[-1][0]["seq"] == realtime._runner._last_submitted  # the last frame is shown
    assert realtime._runner.reason == "end"
    assert realtime.running is False

    with pytest.raises(FileNotFoundError, match="video file not found"):
        make_source(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="cannot decode"):
        make_source(tmp_path / "junk.mp4")


def test_missing_camera_is_a_clear_error(make_widget):
    w = make_widget(source=97)
    assert w.source_kind == "kernel"
    assert w.wait_source(TIMEOUT)
    err = next(c for c, _ in w.outbox.of("error"))
    assert err["code"] == "NO_CAMERA"
    assert err["recoverable"] is False
    assert "camera index 97" in err["message"]
    assert "source='browser'" in err["message"]
    assert w.error["code"] == "NO_CAMERA"
    assert w.running is False
    assert w._runner.reason == "error"


class FakeCapture:
    """An OpenCV capture whose device delivers some frames and then fails (unplugged)."""

    def __init__(self, device, frames):
        self.device = device
        self.frames = list(frames)
        self.settings = {}
        self.released = threading.Event()

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop, value):
        self.settings[prop] = value
        return True

    def read(self):
        return (True, self.frames.pop(0)) if self.frames else (False, None)

    def release(self):
        self.released.set()


def test_camera_that_stops_delivering_reports_camera_closed(make_widget, photo, monkeypatch):
    bgr = cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)
    captures = []

    def fake_capture(device):
        captures.append(FakeCapture(device, [bgr, bgr]))
        return captures[-1]

    monkeypatch.setattr(cv2, "VideoCapture", fake_capture)
    w = make_widget(source=3, resolution=[320, 240])
    assert w.wait_source(TIMEOUT)
    (cap,) = captures
    assert cap.device == 3
    assert cap.settings == {cv2.CAP_PROP_FRAME_WIDTH: 320, cv2.CAP_PROP_FRAME_HEIGHT: 240}
    err = next(c for c, _ in w.outbox.of("error"))
    assert err["code"] == "CAMERA_CLOSED"
    assert err["recoverable"] is True
    assert "camera 3 stopped delivering frames" in err["message"]
    assert cap.released.is_set()  # the device is released
    assert w.running is False
    header, _ = w.outbox.wait(lambda c: c["type"] == "result")  # the frames it did deliver
    # the 512x512 photo is shown shrunk to fit the 320x240 capture size
    assert (header["frame"]["width"], header["frame"]["height"]) == (240, 240)


def test_running_stops_and_resumes_a_kernel_source(make_widget, photo):
    served = threading.Semaphore(0)

    def frames():
        while True:
            served.acquire()  # one frame per permit: the test decides how many are read
            yield photo

    w = make_widget(source=frames())
    for seq in (1, 2):
        served.release()
        w.outbox.wait(lambda c, s=seq: c["type"] == "result" and c["seq"] == s)
    w.running = False
    served.release()  # unblocks the generator so the runner can see it was stopped
    assert w._runner.finished.wait(TIMEOUT)
    assert w._runner.reason == "stopped"
    assert len(results(w)) == 2  # the frame read while stopping was not submitted
    w.running = True  # resumes the same iterator
    served.release()
    w.outbox.wait(lambda c: len(results(w)) == 3)
    assert w.running is True


def test_browser_frames_are_ignored_for_kernel_sources(make_widget, photo):
    from segwidget.preprocess import encode_jpeg

    gate = threading.Event()

    def frames():
        gate.wait(TIMEOUT)
        yield photo

    w = make_widget(source=frames())
    w.outbox.wait(lambda c: c["type"] == "ready")
    send_frame(w, 99, encode_jpeg(photo))
    gate.set()
    got = finished(w)
    assert [c["seq"] for c, _ in got] == [1]


def test_close_stops_the_source_and_the_session(make_widget, photo):
    def forever():
        while True:
            yield photo

    w = make_widget(source=IterableSource(forever(), fps=200))
    w.outbox.wait(lambda c: c["type"] == "result")
    w.close()
    assert w._runner.finished.is_set()
    assert w._runner.reason == "stopped"
    assert w._session.closed


# ------------------------------------------------------------------------- units


def test_make_source_kinds(photo, tmp_path):
    assert make_source("browser") is None
    assert isinstance(make_source(0), CameraSource)
    assert make_source(np.int64(2)).device == 2
    assert make_source("rtsp://camera.local/stream").device == "rtsp://camera.local/stream"
    assert isinstance(make_source([photo]), IterableSource)
    stack = make_source(np.stack([photo, photo]))
    stack.open()
    assert stack.read().shape == photo.shape
    one = make_source(photo)
    one.open()
    np.testing.assert_array_equal(one.read(), photo)
    assert one.read() is None
    own = IterableSource([photo])
    assert make_source(own) is own
    with pytest.raises(TypeError, match="bool"):
        make_source(True)
    with pytest.raises(TypeError, match="iterable of RGB frames"):
        make_source(3.5)
    with pytest.raises(ValueError, match="N x H x W x 3"):
        make_source(np.zeros((1, 2, 3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="fps must be > 0"):
        IterableSource([], fps=0)


def test_iterable_errors_end_the_stream():
    def broken():
        yield np.zeros((4, 4, 3), np.uint8)
        raise KeyError("sensor")

    errors, finishes, submitted = [], [], []
    runner = SourceRunner(
        IterableSource(broken()),
        lambda f: (submitted.append(f.seq), runner.frame_done(f.seq)),
        on_error=errors.append,
        on_finish=finishes.append,
    )
    runner.start()
    assert runner.finished.wait(TIMEOUT)
    assert submitted == [1]
    assert finishes == ["error"]
    assert errors[0].code == "CAMERA_CLOSED"
    assert "KeyError" in str(errors[0])


def test_paced_runner_waits_for_each_result():
    """Without an fps the next frame is read only once the previous one was segmented."""
    submitted: list[Frame] = []
    arrived = threading.Condition()

    def submit(frame):
        with arrived:
            submitted.append(frame)
            arrived.notify_all()

    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(3)]
    source = IterableSource(frames)
    runner = SourceRunner(source, submit, on_error=print, on_finish=lambda r: None)
    runner.start()
    for n in (1, 2, 3):
        with arrived:
            assert arrived.wait_for(lambda n=n: len(submitted) == n, TIMEOUT)
        assert runner.frames_read == n  # nothing read ahead while frame n is in the worker
        runner.frame_done(submitted[-1].seq)
    assert runner.finished.wait(TIMEOUT)
    assert runner.reason == "end"
    assert [f.seq for f in submitted] == [1, 2, 3]
    assert submitted[1].feedback["seq"] == 1  # kernel-side latency of the previous frame
    assert submitted[1].feedback["latency_ms"] >= 0
