"""Raw I420 frames (loopback): the browser's conversion decodes back to its pixels."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from segwidget.errors import FrameError
from segwidget.preprocess import decode_i420, encode_i420, i420_size
from tests.conftest import ROOT

NODE = shutil.which("node")

CONVERT = """
import { rgbaToI420 } from "./js/src/pixels.js";
const { width, height, rgba } = JSON.parse(await new Promise((ok) => {
  let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => ok(s));
}));
process.stdout.write(JSON.stringify([...rgbaToI420(Uint8Array.from(rgba), width, height)]));
"""


def _browser_i420(rgb: np.ndarray) -> bytes:
    h, w = rgb.shape[:2]
    rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
    payload = json.dumps({"width": w, "height": h, "rgba": rgba.ravel().tolist()})
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", CONVERT],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return bytes(json.loads(out.stdout))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_browser_conversion_decodes_to_the_same_pixels(photo):
    rgb = np.ascontiguousarray(photo[100:160:2, 150:230:2])  # 30 x 40, a real photo
    data = _browser_i420(rgb)
    assert len(data) == 40 * 30 * 3 // 2
    ours = np.frombuffer(data, np.uint8).astype(int)
    opencv = np.frombuffer(encode_i420(rgb), np.uint8).astype(int)
    n = 40 * 30
    assert np.abs(ours[:n] - opencv[:n]).max() <= 1  # the same luma as OpenCV's
    assert np.abs(ours[n:] - opencv[n:]).mean() < 2  # chroma: OpenCV subsamples its own way
    back = decode_i420(data, 40, 30).astype(int)
    # chroma is shared by 2x2 blocks: edges blur a little, colours stay
    assert np.abs(back - rgb).mean() < 6
    assert np.abs(back.mean((0, 1)) - rgb.mean((0, 1))).max() < 3


def test_i420_round_trip_keeps_a_smooth_image():
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 240, (x + y) * 255 // 560], -1).astype(np.uint8)
    back = decode_i420(encode_i420(rgb), 320, 240)
    assert back.shape == (240, 320, 3)
    assert np.abs(back.astype(int) - rgb).max() <= 3


@pytest.mark.parametrize(
    ("width", "height", "nbytes", "words"),
    [
        (321, 240, 321 * 240 * 3 // 2, "even"),
        (320, 0, 0, "even positive"),
        ("320", 240, 115200, "even positive"),
        (True, 240, 115200, "even positive"),
        (320, 240, 1000, "115200 bytes"),
        (8192, 2, 8192 * 3, "limit"),
    ],
)
def test_i420_size_mismatch_is_a_clear_error(width, height, nbytes, words):
    with pytest.raises(FrameError, match=words):
        i420_size(width, height, nbytes)
