"""Frame validation, JPEG and raw (I420) decoding and resizing to the model input (CPU side).

Normalisation happens inside the network (``SegmentationNet.normalize``), so the backends
all take the same uint8 ``1 x 3 x H x W`` array this module produces.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import FrameError

DEFAULT_MAX_SIDE = 4096
MAX_JPEG_BYTES = 32 * 1024 * 1024
#: Frame encodings a client may send: JPEG (remote links) or raw I420 (loopback: no encode).
FRAME_ENCODINGS = ("jpeg", "i420")


def validate_frame(rgb: object, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Return ``rgb`` if it is an ``H x W x 3`` uint8 array within ``max_side``; else FrameError."""
    expected = "an H x W x 3 uint8 numpy array in RGB order"
    if not isinstance(rgb, np.ndarray):
        raise FrameError(f"frame must be {expected}, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise FrameError(f"frame must be {expected}, got dtype {rgb.dtype}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        hint = (
            " (drop the alpha channel: rgb[..., :3])" if rgb.ndim == 3 and rgb.shape[2] == 4 else ""
        )
        raise FrameError(f"frame must be {expected}, got shape {rgb.shape}{hint}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise FrameError(f"frame must be {expected}, got an empty {rgb.shape} array")
    if max(rgb.shape[:2]) > max_side:
        raise FrameError(
            f"frame is {rgb.shape[1]}x{rgb.shape[0]}; the limit is {max_side} px a side",
            code="FRAME_TOO_LARGE",
        )
    return rgb


def jpeg_size(data: bytes, max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's header, without decoding pixels.

    FrameError (BAD_JPEG) if it is not a JPEG, FRAME_TOO_LARGE if over the limits: the
    transports call this on receipt, before a frame is queued.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FrameError(f"JPEG data must be bytes, got {type(data).__name__}", code="BAD_JPEG")
    if len(data) > MAX_JPEG_BYTES:
        raise FrameError(
            f"JPEG is {len(data)} bytes; the limit is {MAX_JPEG_BYTES}", code="FRAME_TOO_LARGE"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            fmt, (w, h) = img.format, img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise FrameError("frame is not a decodable JPEG", code="BAD_JPEG") from None
    if fmt != "JPEG":
        raise FrameError(f"frame must be a JPEG, got {fmt}", code="BAD_JPEG")
    if max(w, h) > max_side:
        raise FrameError(
            f"frame is {w}x{h}; the limit is {max_side} px a side", code="FRAME_TOO_LARGE"
        )
    return w, h


def decode_jpeg(data: bytes, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Decode JPEG bytes to RGB, checking the declared size before decoding any pixels."""
    w, h = jpeg_size(data, max_side)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (h, w):
        raise FrameError("frame is not a decodable JPEG", code="BAD_JPEG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def i420_size(width: object, height: object, nbytes: int, max_side: int = DEFAULT_MAX_SIDE):
    """Check a raw I420 frame's declared size against its bytes; FrameError if they disagree.

    I420 is a full-resolution Y plane then quarter-resolution U and V planes (BT.601, limited
    range: what ``cv2.COLOR_YUV2RGB_I420`` expects), so both sides must be even.
    """
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height))
    if not ok or width % 2 or height % 2:
        raise FrameError(
            f"an i420 frame needs even positive width and height, got {width}x{height}"
        )
    if max(width, height) > max_side:
        raise FrameError(
            f"frame is {width}x{height}; the limit is {max_side} px a side", code="FRAME_TOO_LARGE"
        )
    if nbytes != width * height * 3 // 2:
        raise FrameError(
            f"an i420 frame of {width}x{height} has {width * height * 3 // 2} bytes, got {nbytes}"
        )
    return width, height


def decode_i420(data: bytes, width: int, height: int, max_side: int = DEFAULT_MAX_SIDE):
    """Raw I420 bytes -> ``H x W x 3`` RGB (about 0.2 ms at 320x240, vs a JPEG decode)."""
    i420_size(width, height, len(data), max_side)
    planes = np.frombuffer(data, np.uint8).reshape(height * 3 // 2, width)
    return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)


def encode_i420(rgb: np.ndarray) -> bytes:
    """RGB (even sides) -> raw I420 bytes, as the browser sends them (tests, kernel tools)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()


RESIZE_METHODS = ("area", "bilinear")


def resize(rgb: np.ndarray, height: int, width: int, method: str = "area") -> np.ndarray:
    """Resize to the model input.

    ``"area"``: area averaging when shrinking (antialiased), else bilinear. ``"bilinear"``:
    always bilinear, as a GPU texture sampler does (what MediaPipe feeds its models).
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"unknown resize method {method!r}; expected one of {RESIZE_METHODS}")
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = height < rgb.shape[0] and width < rgb.shape[1]
    area = method == "area" and shrink
    return cv2.resize(
        rgb, (width, height), interpolation=cv2.INTER_AREA if area else cv2.INTER_LINEAR
    )


def to_nchw(rgb: np.ndarray) -> np.ndarray:
    """``H x W x 3`` -> contiguous ``1 x 3 x H x W`` uint8."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


def encode_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    """RGB -> JPEG bytes (kernel-side sources, tests, the spec protocol)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
