"""The compositor path (js/src/overlay-renderer.js) in Chromium against the numpy composite.

Synthetic masks at model resolution over a synthetic frame, drawn by the browser's own
drawImage blending, read back losslessly and compared with ``render_overlay``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess

import numpy as np
import pytest

from segwidget.labels import PALETTES
from segwidget.render import render_overlay
from tests.conftest import ROOT

ENTRY = """
export { OverlayRenderer } from "./js/src/overlay-renderer.js";
export { CanvasRenderer } from "./js/src/canvas.js";
export { buildLut } from "./js/src/palette.js";
"""

BUILD = """
const { build } = await import("esbuild");
const out = await build({ stdin: { contents: process.argv[1], resolveDir: process.cwd() },
  bundle: true, format: "iife", globalName: "SW", write: false, logLevel: "error" });
process.stdout.write(out.outputFiles[0].text);
"""

DRAW = """async ([which, frameB64, w, h, maskB64, mw, mh, mode, opacity, palette, keep, flip]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const frame = new ImageData(new Uint8ClampedArray(bytes(frameB64).buffer), w, h);
  const bitmap = await createImageBitmap(frame);
  const canvas = document.createElement("canvas");
  const R = which === "overlay" ? SW.OverlayRenderer : SW.CanvasRenderer;
  const renderer = new R(canvas);
  const lut = SW.buildLut(palette, keep ? new Set(keep) : null);
  const mask = { data: bytes(maskB64), width: mw, height: mh };
  const settings = { mode, opacity, lut, mirror: flip };
  renderer.draw(bitmap, w, h, mask, settings);
  renderer.draw(bitmap, w, h, mask, settings);  // the cached colour mask
  const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let s = "";
  for (let i = 0; i < px.length; i += 8192) s += String.fromCharCode(...px.subarray(i, i + 8192));
  return [canvas.width, canvas.height, btoa(s)];
}"""


@pytest.fixture(scope="module")
def page(launch_browser):
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("needs node and esbuild (npm ci)")
    bundle = subprocess.run(
        [node, "--input-type=module", "-e", BUILD, ENTRY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ctx = launch_browser()
    p = ctx.new_page()
    p.goto("about:blank")
    p.add_script_tag(content=bundle)
    return p


def _frame(w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x * y) % 256], -1).astype(np.uint8)


def _mask(mw: int, mh: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 21, (mh // 4 + 1, mw // 4 + 1)).astype(np.uint8)
    mask = np.kron(blocks, np.ones((4, 4), np.uint8))[:mh, :mw]
    mask[rng.random((mh, mw)) < 0.05] = 15  # single-pixel specks test the sampling
    return np.ascontiguousarray(mask)


def _draw(page, which, frame, mask, mode, opacity, keep=None, mirror=False) -> np.ndarray:
    h, w = frame.shape[:2]
    rgba = np.dstack([frame, np.full((h, w), 255, np.uint8)])
    b64 = [base64.b64encode(a.tobytes()).decode() for a in (rgba, mask)]
    palette = PALETTES["voc"].tolist()
    args = [which, b64[0], w, h, b64[1], mask.shape[1], mask.shape[0], mode, opacity, palette]
    args += [keep, mirror]
    cw, ch, data = page.evaluate(DRAW, args)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(ch, cw, 4)[..., :3]


@pytest.mark.parametrize(
    ("mode", "opacity", "keep", "frame_wh", "mask_wh", "mirror"),
    [
        ("filled", 0.6, None, (160, 120), (80, 60), False),  # 2x, the usual 640 / 320
        ("filled", 0.35, [0, 15], (160, 120), (64, 48), False),  # 2.5x, with a class filter
        ("filled", 1.0, None, (120, 90), (120, 90), False),  # 1x, opaque
        ("side-by-side", 0.6, [15], (160, 120), (80, 60), False),
        ("filled", 0.6, None, (160, 120), (80, 60), True),  # the selfie view
        ("side-by-side", 0.6, [15], (160, 120), (80, 60), True),
    ],
)
def test_overlay_renderer_matches_the_numpy_composite(
    page, mode, opacity, keep, frame_wh, mask_wh, mirror
):
    frame = _frame(*frame_wh)
    mask = _mask(*mask_wh, seed=len(mode) + int(opacity * 100))
    voc = PALETTES["voc"]
    want = render_overlay(frame, mask, voc, mode, opacity, keep, mirror=mirror).astype(int)
    got = _draw(page, "overlay", frame, mask, mode, opacity, keep, mirror).astype(int)
    assert got.shape == want.shape
    diff = np.abs(got - want).max(-1)
    # the browser's blend rounds on its own: a level or two, never a wrong class colour
    assert np.mean(diff > 2) < 0.002, f"{np.mean(diff > 2):.4f} of pixels differ by more than 2"
    assert diff.mean() < 1.0
    exact = _draw(page, "canvas", frame, mask, mode, opacity, keep, mirror).astype(int)
    assert np.array_equal(exact, want)  # the per-pixel renderer is exact
