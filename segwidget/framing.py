"""A frame message's image buffer, as its header names it: JPEG, or raw I420 on loopback.

Both transports call :func:`attach_pixels` on receipt, so a bad combination is refused
before the frame is queued, with the same error from the widget and the server.
"""

from __future__ import annotations

from typing import Any

from .errors import ProtocolError
from .preprocess import DEFAULT_MAX_SIDE, FRAME_ENCODINGS, i420_size
from .protocol import MASK_ENCODINGS
from .stream import Frame


def attach_pixels(
    frame: Frame, header: dict[str, Any], data: bytes, max_side: int = DEFAULT_MAX_SIDE
) -> Frame:
    """Attach buffer 0 to ``frame`` as the header's ``encoding`` says (``jpeg``, the default,
    or raw ``i420`` with ``width`` and ``height``) and take its ``mask_encoding``; bad
    combinations raise FrameError / ProtocolError before the frame is queued."""
    encoding = header.get("encoding", "jpeg")
    if encoding not in FRAME_ENCODINGS:
        raise ProtocolError(
            "BAD_MESSAGE", f"frame 'encoding' must be one of {', '.join(FRAME_ENCODINGS)}"
        )
    mask = header.get("mask_encoding")
    if mask is not None and mask not in MASK_ENCODINGS:
        raise ProtocolError(
            "BAD_MESSAGE", f"frame 'mask_encoding' must be one of {', '.join(MASK_ENCODINGS)}"
        )
    frame.mask_encoding = mask
    if encoding == "jpeg":
        frame.jpeg = data
    else:
        frame.size = i420_size(header.get("width"), header.get("height"), len(data), max_side)
        frame.i420 = data
    return frame
