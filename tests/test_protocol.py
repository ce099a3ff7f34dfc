import json
import struct

import numpy as np
import pytest

from segwidget.errors import ProtocolError
from segwidget.protocol import decode_mask, encode_mask, pack_ws, unpack_ws


def test_json_only_messages_are_text_frames():
    msg = pack_ws({"type": "hello"})
    assert isinstance(msg, str)
    assert unpack_ws(msg) == ({"type": "hello"}, [])


def test_binary_frame_layout_and_round_trip():
    header = {"type": "frame", "seq": 3}
    data = pack_ws(header, [b"abc", b"", b"defgh"])
    assert isinstance(data, bytes)
    (n,) = struct.unpack_from(">I", data)
    assert json.loads(data[4 : 4 + n]) == {**header, "sizes": [3, 0, 5]}
    assert data[4 + n :] == b"abcdefgh"
    assert unpack_ws(data) == (header, [b"abc", b"", b"defgh"])


def test_binary_frame_without_sizes_is_one_buffer():
    head = json.dumps({"type": "frame"}).encode()
    data = struct.pack(">I", len(head)) + head + b"JPEG"
    assert unpack_ws(data) == ({"type": "frame"}, [b"JPEG"])


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "BAD_JSON"),
        ("[1, 2]", "BAD_MESSAGE"),
        ('{"type": 5}', "BAD_MESSAGE"),
        (b"\x00\x00", "BAD_FRAME"),
        (struct.pack(">I", 100) + b"{}", "BAD_FRAME"),
        (struct.pack(">I", 2) + b"{}", "BAD_MESSAGE"),
        (struct.pack(">I", 2) + b"\xff\xfe", "BAD_JSON"),
    ],
)
def test_malformed_messages_raise_protocol_errors_with_codes(data, code):
    with pytest.raises(ProtocolError) as info:
        unpack_ws(data)
    assert info.value.code == code


def test_sizes_must_match_the_payload():
    head = json.dumps({"type": "frame", "sizes": [10]}).encode()
    with pytest.raises(ProtocolError, match="sizes"):
        unpack_ws(struct.pack(">I", len(head)) + head + b"short")


@pytest.mark.parametrize("encoding", ["deflate", "raw", "png"])
def test_mask_encodings_round_trip(encoding, fast_engine, photo):
    mask = fast_engine.segment(photo).mask
    data = encode_mask(mask, encoding)
    assert np.array_equal(decode_mask(data, mask.shape[1], mask.shape[0], encoding), mask)
    if encoding == "deflate":
        assert len(data) < mask.size / 10  # class masks compress very well


def test_unknown_mask_encoding():
    with pytest.raises(ValueError, match="deflate"):
        encode_mask(np.zeros((2, 2), np.uint8), "jpeg")
