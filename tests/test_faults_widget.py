"""Widget lifecycle faults without a browser: closing a widget releases what it holds, and a
second widget on the same kernel camera takes it over cleanly (the older one says why)."""

from __future__ import annotations

import gc
import threading
import typing
import weakref

import numpy as np
import pytest
from test_widget import send_frame

from segwidget import sources
from segwidget.preprocess import encode_jpeg
from tests.widget_doubles import CapturingWidget


class FakeCapture:
    """A cv2.VideoCapture for one device that, like a real one, cannot be opened twice."""

    open_now: typing.ClassVar[dict] = {}
    lock = threading.Lock()

    def __init__(self, device):
        self.device = device
        with FakeCapture.lock:
            self.opened = device not in FakeCapture.open_now
            if self.opened:
                FakeCapture.open_now[device] = self
        self.frames = 0

    def isOpened(self):  # noqa: N802  (OpenCV's name)
        return self.opened

    def set(self, prop, value):
        return True

    def read(self):
        if not self.opened:
            return False, None
        self.frames += 1
        frame = np.full((48, 64, 3), self.frames % 200, np.uint8)
        return True, frame

    def release(self):
        with FakeCapture.lock:
            if FakeCapture.open_now.get(self.device) is self:
                del FakeCapture.open_now[self.device]
        self.opened = False


@pytest.fixture
def fake_cameras(monkeypatch):
    FakeCapture.open_now = {}
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture)
    return FakeCapture


def streaming(widget, after=0):
    """Wait for a result newer than ``after`` results; return how many there are."""
    widget.outbox.wait(lambda c: c["type"] == "result" and len(widget.outbox.of("result")) > after)
    return len(widget.outbox.of("result"))


def test_closing_a_widget_releases_camera_thread_and_engine(fake_cameras):
    w = CapturingWidget(source=0, weights="random")
    streaming(w)
    runner = w._runner
    assert list(fake_cameras.open_now) == [0]
    w.close()
    assert fake_cameras.open_now == {}  # the camera is released
    assert runner.finished.is_set()  # the source thread has ended
    assert w.engine is None  # the engine (pooled, shared) is no longer held by the widget
    ref = weakref.ref(w)
    del w, runner
    gc.collect()
    assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]


def test_a_second_widget_takes_the_camera_over_and_the_first_says_so(make_widget, fake_cameras):
    first = make_widget(source=0)
    streaming(first)
    second = make_widget(source=0)
    streaming(second)
    first.outbox.wait(lambda c: c["type"] == "error" and c["code"] == "CAMERA_CLOSED")
    assert "handed over to a newer widget" in first.error["message"]
    assert first.error["code"] == "CAMERA_CLOSED"
    assert first.running is False
    assert fake_cameras.open_now[0] is not None
    assert len(fake_cameras.open_now) == 1  # one capture of the device, the second's

    second.close()  # the first takes it back when asked
    assert fake_cameras.open_now == {}
    before = len(first.outbox.of("result"))
    first.running = True
    streaming(first, before)
    assert first.error is None


def test_a_second_browser_widget_streams_beside_the_first(make_widget, photos):
    """Browser cameras are shared by the browser: both widgets keep their own sessions."""
    jpegs = {name: encode_jpeg(rgb) for name, rgb in photos.items()}
    a, b = make_widget(), make_widget()
    send_frame(a, 1, jpegs["astronaut"])
    send_frame(b, 1, jpegs["coffee"])
    a.outbox.wait(lambda c: c["type"] == "result" and c["seq"] == 1)
    b.outbox.wait(lambda c: c["type"] == "result" and c["seq"] == 1)
    a.close()
    send_frame(b, 2, jpegs["coffee"])
    b.outbox.wait(lambda c: c["type"] == "result" and c["seq"] == 2)
    assert b.error is None
