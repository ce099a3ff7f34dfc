"""Wire format shared by both transports (design decision 1).

A message is a JSON header (a dict with a ``"type"``) plus zero or more binary buffers.
On the comm channel that is ``content`` + ``buffers``. On a WebSocket, a message without
buffers is a text frame; a message with buffers is one binary frame::

    [u32 big-endian header length][UTF-8 JSON header][buffer 0][buffer 1]...

and the header then carries ``"sizes": [len0, len1, ...]`` so the buffers can be split.
``js/src/protocol.js`` is the browser's twin of this module.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

from .errors import ProtocolError

MAX_HEADER_BYTES = 64 * 1024

#: Mask encodings the browser understands. ``deflate`` is zlib-wrapped DEFLATE, which the
#: browser inflates with ``DecompressionStream("deflate")``.
MASK_ENCODINGS = ("deflate", "raw", "png")


def pack_ws(header: dict[str, Any], buffers: list[bytes] | tuple[bytes, ...] = ()) -> str | bytes:
    """Encode one message for a WebSocket: ``str`` (text frame) or ``bytes`` (binary frame)."""
    if not buffers:
        return json.dumps(header, separators=(",", ":"))
    header = {**header, "sizes": [len(b) for b in buffers]}
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([struct.pack(">I", len(head)), head, *buffers])


def unpack_ws(data: str | bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Decode one WebSocket message into ``(header, buffers)``; raise ProtocolError if malformed."""
    if isinstance(data, str):
        return _parse_header(data), []
    if len(data) < 4:
        raise ProtocolError("BAD_FRAME", "binary message shorter than its 4-byte header length")
    (n,) = struct.unpack_from(">I", data, 0)
    if n > MAX_HEADER_BYTES or 4 + n > len(data):
        raise ProtocolError("BAD_FRAME", f"binary message declares a {n}-byte header it lacks")
    header = _parse_header(data[4 : 4 + n])
    body = memoryview(data)[4 + n :]
    sizes = header.pop("sizes", [len(body)])
    if (
        not isinstance(sizes, list)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)
        or sum(sizes) != len(body)
    ):
        raise ProtocolError("BAD_FRAME", "binary message 'sizes' do not match its payload")
    buffers, at = [], 0
    for s in sizes:
        buffers.append(bytes(body[at : at + s]))
        at += s
    return header, buffers


def parse_json(raw: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ProtocolError ``BAD_JSON``.

    Nesting deeper than the interpreter's recursion limit (``[[[[...``, found by fuzzing)
    raises RecursionError, not ValueError, from ``json.loads``.
    """
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError("BAD_JSON", f"message is not valid JSON: {exc}") from None


def _parse_header(raw: str | bytes) -> dict[str, Any]:
    header = parse_json(raw)
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("BAD_MESSAGE", "message must be a JSON object with a string 'type'")
    return header


def encode_mask(mask: np.ndarray, encoding: str = "deflate") -> bytes:
    """Compress a uint8 class-index mask for the wire (row-major, ``height x width``)."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    if encoding == "deflate":
        return zlib.compress(mask.tobytes(), 1)
    if encoding == "raw":
        return mask.tobytes()
    if encoding == "png":
        import cv2

        ok, buf = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise ValueError("PNG encoding of the mask failed")
        return buf.tobytes()
    raise ValueError(f"unknown mask encoding {encoding!r}; expected one of {MASK_ENCODINGS}")


def decode_mask(data: bytes, width: int, height: int, encoding: str = "deflate") -> np.ndarray:
    """Inverse of :func:`encode_mask`; a mask that does not decode to ``height x width`` raises
    ProtocolError ``BAD_FRAME`` (a ValueError), an unknown encoding ValueError."""
    if encoding == "deflate":
        inflater = zlib.decompressobj()
        try:  # at most one byte more than expected: a bad size is caught without inflating it all
            raw = inflater.decompress(data, width * height + 1)
        except zlib.error as exc:
            raise ProtocolError("BAD_FRAME", f"mask is not a zlib stream: {exc}") from None
    elif encoding == "raw":
        raw = data
    elif encoding == "png":
        import cv2

        try:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:  # e.g. an empty buffer
            img = None
        if img is None or img.shape != (height, width):
            raise ProtocolError("BAD_FRAME", f"mask is not a {width}x{height} grayscale PNG")
        return img
    else:
        raise ValueError(f"unknown mask encoding {encoding!r}; expected one of {MASK_ENCODINGS}")
    if len(raw) != width * height:
        raise ProtocolError("BAD_FRAME", f"mask has {len(raw)} bytes, expected {width}x{height}")
    return np.frombuffer(raw, np.uint8).reshape(height, width)
