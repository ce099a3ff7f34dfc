"""Property-based fuzzing of the wire format and the message parsers (both transports).

Arbitrary bytes, text and JSON must give a result or the documented ProtocolError (with a
documented code), never another exception; a valid message still parses after any invalid
one. Examples are deterministic (tests/conftest.py); SEGWIDGET_FUZZ_EXAMPLES explores more.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from segwidget.errors import ProtocolError
from segwidget.protocol import MAX_HEADER_BYTES, decode_mask, encode_mask, pack_ws, unpack_ws
from segwidget.stream import Frame
from segwidget.transports.comm import frame_from_message
from segwidget.transports.messages import MODELS, parse_client_message

pytestmark = pytest.mark.timeout(300)  # a parser that hangs fails here, not in CI's limit

WIRE_CODES = {"BAD_JSON", "BAD_MESSAGE", "BAD_FRAME"}
MESSAGE_CODES = {"BAD_MESSAGE", "UNKNOWN_TYPE"}

# JSON as a client can send it: numbers include ints far beyond a float's range.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = sorted(
    {name for model in MODELS.values() for name in model.model_fields}
    | {"sizes", "config", "resolution", "viz", "client", "feedback", "settings"}
)
message_types = st.sampled_from(sorted(MODELS)) | st.text(max_size=12)
headers = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    message_types,
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=6),
)
DEEP = "[" * 100_000  # deeper than the interpreter's recursion limit


def attempt(fn, *args):
    """``(result, None)`` or ``(None, the ProtocolError)``; any other exception propagates."""
    try:
        return fn(*args), None
    except ProtocolError as exc:
        return None, exc


def _expect_wire(data: str | bytes) -> tuple[dict, list[bytes]] | None:
    out, error = attempt(unpack_ws, data)
    if error is not None:
        assert error.code in WIRE_CODES, error.code
        return None
    header, buffers = out
    assert isinstance(header, dict)
    assert isinstance(header["type"], str)
    assert "sizes" not in header
    assert all(isinstance(b, bytes) for b in buffers)
    return header, buffers


def _assert_still_works() -> None:
    header = {"type": "frame", "seq": 1}
    assert unpack_ws(pack_ws(header, [b"jpeg"])) == (header, [b"jpeg"])
    assert unpack_ws(pack_ws({"type": "hello"})) == ({"type": "hello"}, [])


@given(st.binary(max_size=300))
@example(struct.pack(">I", 30_000) + DEEP[:30_000].encode())  # found: RecursionError
@example(struct.pack(">I", 2**32 - 1))
@example(struct.pack(">I", 26) + b'{"type":"x","sizes":[true]}' + b"a")
def test_arbitrary_bytes_unpack_or_raise_the_documented_error(data):
    _expect_wire(data)
    _assert_still_works()


@given(st.text(max_size=300))
@example(DEEP)  # found: RecursionError from json.loads
@example('{"type": "x", "n": ' + "9" * 5000 + "}")  # beyond int's string-digits limit
@example('{"type": "x", "n": NaN}')
def test_arbitrary_text_unpacks_or_raises_the_documented_error(text):
    _expect_wire(text)
    _assert_still_works()


@given(headers, st.lists(st.binary(max_size=50), max_size=4))
def test_any_header_and_buffers_round_trip(header, buffers):
    header = {k: v for k, v in header.items() if k != "sizes"}  # pack_ws owns "sizes"
    packed = pack_ws(header, buffers)
    assert isinstance(packed, bytes if buffers else str)
    assert unpack_ws(packed) == (json.loads(json.dumps(header)), buffers)


@given(
    headers,
    st.lists(st.binary(min_size=1, max_size=30), min_size=1, max_size=3),
    st.data(),
)
def test_corrupted_binary_frames_unpack_or_raise_the_documented_error(header, buffers, data):
    packed = bytearray(pack_ws({k: v for k, v in header.items() if k != "sizes"}, buffers))
    how = data.draw(st.sampled_from(["truncate", "flip", "extend"]))
    if how == "truncate":
        del packed[data.draw(st.integers(0, len(packed) - 1)) :]
    elif how == "flip":
        at = data.draw(st.integers(0, len(packed) - 1))
        packed[at] ^= data.draw(st.integers(1, 255))
    else:
        packed += data.draw(st.binary(min_size=1, max_size=10))
    _expect_wire(bytes(packed))
    _assert_still_works()


def test_header_length_bound_is_enforced():
    with pytest.raises(ProtocolError) as info:
        unpack_ws(struct.pack(">I", MAX_HEADER_BYTES + 1) + b" " * (MAX_HEADER_BYTES + 1))
    assert info.value.code == "BAD_FRAME"


# -- pydantic messages (the page's WebSocket) --------------------------------------------------


@given(headers)
@example({"type": "frame", "timestamp": 10**400, "client": {"a": 10**400}})
@example({"type": "init", "config": {"resolution": {"width": 10**30, "height": 1}}})
@example({"type": "update_viz", "settings": {"custom_colormap": [[1, 2, 3]] * 2000}})
def test_client_messages_validate_or_raise_the_documented_error(header):
    msg, error = attempt(parse_client_message, header)
    if error is not None:
        assert error.code in MESSAGE_CODES, error.code
        assert len(str(error)) < 2000  # the message stays readable whatever the input
    else:
        assert msg.type == header["type"]
    assert parse_client_message({"type": "hello"}).type == "hello"


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_the_server_pipeline_never_raises_anything_else(data):
    """unpack_ws then parse_client_message: what the server's receive path runs."""
    _, error = attempt(lambda: parse_client_message(unpack_ws(data)[0]))
    assert error is None or error.code in WIRE_CODES | MESSAGE_CODES


# -- the comm transport's frames (the widget) --------------------------------------------------

buffers_any = st.none() | st.lists(
    st.binary(max_size=20)
    | st.builds(memoryview, st.binary(max_size=20))
    | st.builds(bytearray, st.binary(max_size=20))
    | st.integers(-5, 5)
    | st.text(max_size=5)
    | st.none(),
    max_size=3,
)
frame_contents = st.builds(
    lambda fields, seq: {**fields, "type": "frame", **({} if seq is None else {"seq": seq})},
    st.dictionaries(
        st.sampled_from(["t_capture", "client", "feedback", "seq", "encoding", "mask_encoding"])
        | st.sampled_from(["width", "height"])
        | st.text(max_size=6),
        json_values,
        max_size=5,
    ),
    st.none() | st.integers(min_value=-3),
)


@given(frame_contents, buffers_any)
@example({"type": "frame", "seq": 1, "t_capture": 10**400}, [b"x"])  # found: OverflowError
@example({"type": "frame", "seq": 1, "client": {"capture_ms": 10**400}}, [b"x"])
@example({"type": "frame", "seq": 1}, [-1])  # found: ValueError from bytes(-1)
@example({"type": "frame", "seq": 1}, ["abc"])  # found: TypeError from bytes("abc")
def test_comm_frames_parse_or_raise_the_documented_error(content, buffers):
    frame, error = attempt(frame_from_message, content, buffers)
    if error is not None:
        assert error.code in {"BAD_MESSAGE", "BAD_FRAME"}, error.code
    else:
        assert isinstance(frame, Frame)
        assert isinstance(frame.jpeg, bytes)
        assert frame.seq == content["seq"]
        assert frame.t_capture is None or isinstance(frame.t_capture, float)
        assert all(isinstance(v, float) for v in frame.client.values())
    good = frame_from_message({"type": "frame", "seq": 2}, [memoryview(b"jpeg")])
    assert good.jpeg == b"jpeg"


# -- mask decoding -----------------------------------------------------------------------------


@given(
    st.binary(max_size=200),
    st.integers(0, 64),
    st.integers(0, 64),
    st.sampled_from(["deflate", "raw", "png"]),
)
@example(zlib.compress(bytes(10**7)), 4, 4, "deflate")  # a bomb is not inflated whole
@example(b"", 1, 1, "png")  # found: cv2.error on an empty buffer
def test_masks_decode_or_raise_the_documented_error(data, width, height, encoding):
    mask, error = attempt(decode_mask, data, width, height, encoding)
    if error is not None:
        assert error.code == "BAD_FRAME"
    else:
        assert mask.shape == (height, width)
        assert mask.dtype == np.uint8


@given(
    st.integers(1, 40).flatmap(
        lambda h: st.integers(1, 40).flatmap(
            lambda w: st.binary(min_size=h * w, max_size=h * w).map(
                lambda b: np.frombuffer(b, np.uint8).reshape(h, w)
            )
        )
    ),
    st.sampled_from(["deflate", "raw", "png"]),
)
def test_any_mask_round_trips(mask, encoding):
    decoded = decode_mask(encode_mask(mask, encoding), mask.shape[1], mask.shape[0], encoding)
    assert np.array_equal(decoded, mask)
