"""Property-based fuzzing of the transports' receive paths: whatever arrives, the transport
answers with a documented error (or nothing), never raises, and the next valid frame streams."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from segwidget.transports.comm import CommTransport

pytestmark = pytest.mark.timeout(300)

COMM_CODES = {"BAD_MESSAGE", "BAD_FRAME", "UNKNOWN_TYPE"}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
comm_contents = json_values | st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from(["frame", "hello", "client_error"]) | st.text(max_size=8),
    st.dictionaries(
        st.sampled_from(["seq", "t_capture", "client", "feedback", "code", "message", "encoding"])
        | st.sampled_from(["width", "height", "mask_encoding"])
        | st.text(max_size=6),
        json_values,
        max_size=5,
    ),
)
comm_buffers = st.none() | st.lists(
    st.binary(max_size=16) | st.builds(memoryview, st.binary(max_size=16)) | st.integers(-3, 3),
    max_size=3,
)


class FakeWidget:
    """The WidgetHooks a CommTransport talks to, recording what it is told."""

    def __init__(self):
        self.sent: list[dict] = []
        self.errors: list[dict] = []

    def send(self, content, buffers=None):
        self.sent.append(content)

    def kernel_source(self):
        return False

    def display_limits(self):
        return (640, 480), 80

    def show_error(self, msg, client=False):
        self.errors.append(msg)

    def clear_client_error(self):
        self.errors.append({})


class FakeSession:
    engine = None

    def __init__(self):
        self.frames = []

    def submit(self, frame):
        self.frames.append(frame)


@given(comm_contents, comm_buffers)
@example({"type": "frame", "seq": 1, "t_capture": 10**400}, [b"x"])
@example({"type": "frame", "seq": 1}, [-1])
@example({"type": "client_error", "code": "X", "message": 5, "recoverable": True}, None)
def test_comm_transport_answers_anything_with_a_documented_error(content, buffers):
    widget = FakeWidget()
    transport = CommTransport(widget)
    session = FakeSession()
    transport.session = session  # type: ignore[assignment]
    transport.handle(content, buffers)
    for msg in widget.sent:  # only error messages, each with a documented code
        assert msg["type"] == "error"
        assert msg["code"] in COMM_CODES, msg
        assert msg["recoverable"] is True
    frames_before = len(session.frames)
    transport.handle({"type": "frame", "seq": 99}, [memoryview(b"jpeg")])
    assert len(session.frames) == frames_before + 1
    assert session.frames[-1].seq == 99
    assert session.frames[-1].jpeg == b"jpeg"
