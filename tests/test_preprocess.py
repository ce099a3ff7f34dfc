"""Preprocessing matches what the pretrained weights were trained with."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from segwidget.errors import FrameError
from segwidget.preprocess import decode_jpeg, encode_jpeg, resize, to_nchw, validate_frame
from segwidget.profiles import PROFILES, input_hw
from segwidget.weights import SegmentationNet, build_architecture


def _net(profile: str) -> SegmentationNet:
    p = PROFILES[profile]
    return SegmentationNet(build_architecture(p), p.family)


@pytest.mark.parametrize("profile", ["fast", "balanced"])
def test_normalisation_matches_torchvision_weights_transforms(photo, profile):
    from torchvision.models import segmentation

    enum_name, member = PROFILES[profile].pretrained.split(".")
    weights = getattr(getattr(segmentation, enum_name), member)
    h, w = input_hw(*photo.shape[:2], PROFILES[profile].cpu_size, PROFILES[profile].multiple)
    small = resize(photo, h, w)
    # The official transform at the same size (resize disabled: we resize with aspect kept).
    official = weights.transforms(resize_size=None)(torch.from_numpy(small).permute(2, 0, 1))
    ours = _net(profile).normalize(torch.from_numpy(to_nchw(small)))[0]
    assert ours.shape == official.shape
    torch.testing.assert_close(ours, official, atol=1e-5, rtol=1e-5)


def test_normalisation_matches_segformer_image_processor(photos):
    from transformers import SegformerImageProcessor

    photo = photos["coffee"]
    h, w = input_hw(*photo.shape[:2], 384, 32)
    small = resize(photo, h, w)
    proc = SegformerImageProcessor(do_resize=False)
    official = proc(images=small, return_tensors="pt")["pixel_values"][0]
    ours = _net("accurate").normalize(torch.from_numpy(to_nchw(small)))[0]
    torch.testing.assert_close(ours, official, atol=1e-5, rtol=1e-5)


def test_resize_is_close_to_the_processors_own_resize(photos):
    """Our (antialiased area) resize stays close to PIL bilinear, which the processor uses."""
    photo = photos["chelsea"]
    h, w = input_hw(*photo.shape[:2], 384, 32)
    ours = resize(photo, h, w).astype(np.int16)
    pil = np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR)).astype(np.int16)
    assert ours.shape == pil.shape == (h, w, 3)
    assert np.abs(ours - pil).mean() < 3.0


def test_to_nchw_layout(photo):
    x = to_nchw(photo)
    assert x.shape == (1, 3, *photo.shape[:2])
    assert x.flags.c_contiguous
    assert np.array_equal(x[0, 1], photo[..., 1])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not an array", "got str"),
        (np.zeros((8, 8, 3), np.float32), "dtype float32"),
        (np.zeros((8, 8), np.uint8), r"shape \(8, 8\)"),
        (np.zeros((8, 8, 4), np.uint8), "alpha"),
        (np.zeros((0, 8, 3), np.uint8), "empty"),
    ],
)
def test_validate_frame_says_what_was_expected(value, message):
    with pytest.raises(FrameError, match=message) as info:
        validate_frame(value)
    assert "H x W x 3 uint8" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_validate_frame_size_limit():
    with pytest.raises(FrameError, match="limit is 64 px") as info:
        validate_frame(np.zeros((65, 10, 3), np.uint8), max_side=64)
    assert info.value.code == "FRAME_TOO_LARGE"


def test_jpeg_round_trip(photo):
    rgb = decode_jpeg(encode_jpeg(photo, 95))
    assert rgb.shape == photo.shape
    assert np.abs(rgb.astype(int) - photo).mean() < 3  # RGB order kept, not BGR


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"\xff\xd8\xff\xe0" + b"\x00" * 40, bytearray(b"\x89PNG....")]
)
def test_corrupt_jpeg_is_a_clear_error(data):
    with pytest.raises(FrameError, match="JPEG") as info:
        decode_jpeg(data)
    assert info.value.code == "BAD_JPEG"


def test_non_jpeg_image_is_rejected(photo):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")
    with pytest.raises(FrameError, match="must be a JPEG, got PNG"):
        decode_jpeg(buf.getvalue())


def test_oversized_jpeg_is_rejected_before_decoding():
    wide = encode_jpeg(np.zeros((8, 5000, 3), np.uint8))
    with pytest.raises(FrameError, match="5000x8") as info:
        decode_jpeg(wide, max_side=4096)
    assert info.value.code == "FRAME_TOO_LARGE"


def test_truncated_jpeg_does_not_crash(photo):
    """libjpeg may return the decodable part of a truncated file: a whole frame or an error."""
    data = encode_jpeg(photo)
    outcome = []
    try:
        outcome.append(decode_jpeg(data[: len(data) // 2]).shape)
    except FrameError as exc:
        outcome.append(exc.code)
    assert outcome[0] in (photo.shape, "BAD_JPEG")


def test_decompression_bomb_header_is_a_clear_error():
    """A header declaring billions of pixels is refused before PIL or OpenCV allocate."""
    data = bytearray(encode_jpeg(np.zeros((8, 8, 3), np.uint8)))
    sof = data.index(b"\xff\xc0")  # baseline start-of-frame: length, precision, height, width
    data[sof + 5 : sof + 9] = (65000).to_bytes(2, "big") * 2
    with pytest.raises(FrameError) as info:
        decode_jpeg(bytes(data))
    assert info.value.code in ("BAD_JPEG", "FRAME_TOO_LARGE")
