"""segwidget.render: the numpy composite must match the browser's renderer pixel for pixel."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from segwidget.edges import edge_field
from segwidget.effects import heat_lut
from segwidget.labels import VOC_PALETTE
from segwidget.postprocess import upsample_mask
from segwidget.render import (
    VIZ_MODES,
    colorize,
    colorized_png,
    encode_png,
    render_overlay,
)

ROOT = Path(__file__).resolve().parent.parent
RENDERER_JS = ROOT / "js" / "src" / "renderer.js"
PALETTE_JS = ROOT / "js" / "src" / "palette.js"

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
PAL3 = np.array([RED, GREEN, BLUE], dtype=np.uint8)
GREY = (90, 120, 150)  # frame colour distinct from every PAL3 colour


def const_frame(h: int, w: int, rgb=GREY) -> np.ndarray:
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[:] = rgb
    return frame


def expected_filled(frame: np.ndarray, color: np.ndarray, a: float) -> np.ndarray:
    """Independent reference: round-half-up of v * (1 - a) + c * a in float64."""
    v = frame.astype(np.float64)
    return np.floor(v * (1 - a) + color.astype(np.float64) * a + 0.5).astype(np.uint8)


CLASS_MODES = ("filled", "contour", "side-by-side", "blend")  # the class filter applies


def test_viz_modes():
    assert (*CLASS_MODES, "blur", "replace", "confidence") == VIZ_MODES


# ---------------------------------------------------------------------- colorize


def test_colorize_palette_and_wraparound():
    mask = np.arange(8, dtype=np.uint8).reshape(2, 4)
    rgb, alpha = colorize(mask, PAL3)
    assert rgb.shape == (2, 4, 3)
    assert rgb.dtype == np.uint8
    assert alpha.dtype == bool
    assert alpha.all()
    for k in range(8):
        y, x = divmod(k, 4)
        assert tuple(rgb[y, x]) == tuple(PAL3[k % 3]), k
    # the largest class value wraps too
    rgb, _ = colorize(np.full((1, 1), 255, np.uint8), PAL3)
    assert tuple(rgb[0, 0]) == tuple(PAL3[255 % 3])


def test_colorize_filter_hides_classes():
    mask = np.array([[0, 1, 2, 3]], dtype=np.uint8)
    rgb, alpha = colorize(mask, VOC_PALETTE[:4], class_filter_ids=[1, 3])
    assert alpha.tolist() == [[False, True, False, True]]
    assert rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[0, 2].tolist() == [0, 0, 0]
    assert rgb[0, 1].tolist() == VOC_PALETTE[1].tolist()
    assert rgb[0, 3].tolist() == VOC_PALETTE[3].tolist()
    # an empty filter shows every class, like None
    _, alpha = colorize(mask, VOC_PALETTE, class_filter_ids=[])
    assert alpha.all()


def test_colorize_accepts_list_palette_and_numpy_ids():
    mask = np.array([[0, 1]], dtype=np.uint8)
    rgb, alpha = colorize(mask, [[1, 2, 3], [4, 5, 6]], class_filter_ids=np.array([1]))
    assert rgb.tolist() == [[[0, 0, 0], [4, 5, 6]]]
    assert alpha.tolist() == [[False, True]]


# ---------------------------------------------------------------------- filled


def blocks(mask: np.ndarray, n: int) -> np.ndarray:
    """Each mask pixel as an n x n block (a mask whose edges the vote keeps where they are)."""
    return np.kron(mask, np.ones((n, n), np.uint8))


def test_filled_known_values():
    frame = const_frame(8, 12, (100, 100, 100))
    mask = blocks(np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8), 4)
    out = render_overlay(frame, mask, PAL3, "filled", 0.5)
    # red over grey 100 at 0.5: R = round(50 + 127.5) = 178 (half up), G = B = 50; block
    # interiors (away from the anti-aliased edges)
    assert out[1, 1].tolist() == [178, 50, 50]
    assert out[1, 5].tolist() == [50, 178, 50]
    assert out[1, 10].tolist() == [50, 50, 178]
    assert out[6, 1].tolist() == [50, 50, 178]


def test_filled_opacity_zero_is_frame_and_one_is_colour(photo):
    frame = photo[:64, :80]
    mask = blocks((np.arange(16 * 20).reshape(16, 20) % 5).astype(np.uint8), 4)
    np.testing.assert_array_equal(render_overlay(frame, mask, VOC_PALETTE, "filled", 0.0), frame)
    field = edge_field(mask, None, 64, 80)
    rgb, _ = colorize(field.k1, VOC_PALETTE)
    inner = field.t == 255
    assert inner.mean() > 0.5
    for opacity in (1.0, 1):
        out = render_overlay(frame, mask, VOC_PALETTE, "filled", opacity)
        np.testing.assert_array_equal(out[inner], rgb[inner])
        # at the edges: between the two classes' colours
        rgb2, _ = colorize(field.k2, VOC_PALETTE)
        lo, hi = np.minimum(rgb, rgb2), np.maximum(rgb, rgb2)
        assert ((out >= lo) & (out <= hi)).all()


def test_filled_matches_reference_on_photo_with_filter(photo):
    frame = photo  # 512 x 512 real photo
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[8:40, 16:48] = 15  # "person"
    mask[40:, :] = 7  # "car"
    mask[:8, 50:] = 200  # out of the VOC range: wraps around
    out = render_overlay(frame, mask, VOC_PALETTE, "filled", 0.6, class_filter_ids=[15, 200])
    up = np.repeat(np.repeat(mask, 8, axis=0), 8, axis=1)  # exact 8x nearest upsampling
    field = edge_field(mask, None, 512, 512)
    assert (field.k1 != up).mean() < 0.002  # the vote moves only corners (rounded)
    rgb, visible = colorize(field.k1, VOC_PALETTE, [15, 200])
    inner = field.t == 255
    np.testing.assert_array_equal(out[~visible & inner], frame[~visible & inner])
    want = expected_filled(frame, rgb, 0.6)
    np.testing.assert_array_equal(out[visible & inner], want[visible & inner])
    assert tuple(rgb[0, 511]) == tuple(VOC_PALETTE[200 % 21])
    assert abs(visible.sum() - (32 * 32 + 8 * 14) * 64) < 400  # corners rounded


def test_filter_hides_classes_in_every_mode(photo):
    frame = photo[100:160, 200:280]
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[:, 40:] = 1
    mask[20:40, 10:30] = 2
    hidden = mask != 1
    for mode in CLASS_MODES:
        out = render_overlay(frame, mask, PAL3, mode, 0.8, class_filter_ids=[1])
        left = out[:, :80]
        np.testing.assert_array_equal(left[hidden], frame[hidden], err_msg=mode)
        if mode in ("filled", "blend"):
            assert (left[~hidden] != frame[~hidden]).any(axis=1).mean() > 0.9, mode


def test_does_not_modify_inputs(photo):
    frame = photo[:32, :32].copy()
    mask = np.eye(32, dtype=np.uint8)
    frame0, mask0 = frame.copy(), mask.copy()
    for mode in VIZ_MODES:
        out = render_overlay(frame, mask, VOC_PALETTE, mode, 0.7)
        assert not np.shares_memory(out, frame)
    np.testing.assert_array_equal(frame, frame0)
    np.testing.assert_array_equal(mask, mask0)


# --------------------------------------------------------------------- upsampling


def test_class_edges_are_the_bilinear_vote_anti_aliased():
    mask = np.zeros((8, 8), np.uint8)
    mask[:, 3:] = 1  # an edge at mask x = 3, display x = 9.375 at 25 / 8 x
    frame = const_frame(8, 25, (0, 0, 0))
    out = render_overlay(frame, mask, PAL3, "filled", 1.0)
    row = out[4, :, 0].astype(int)  # red channel: class 0's share
    assert (row[:9] == 255).all()
    assert (row[10:] == 0).all()
    assert 0 < row[9] < 255  # the pixel the edge cuts: mixed
    assert (np.diff(row) <= 0).all()


def test_upsample_nearest_formula_matches_browser():
    # 384 -> 480 is a case where OpenCV's INTER_NEAREST_EXACT picks other rows at ties
    mh, mw, h, w = 384, 512, 480, 640
    mask = (np.arange(mh)[:, None] * 7 + np.arange(mw)[None, :]).astype(np.uint8)
    up = upsample_mask(mask, h, w)
    assert up.shape == (h, w)
    for y in (0, 1, 2, 3, 4, 5, 239, 240, 477, 478, 479):
        for x in (0, 1, 2, 319, 320, 639):
            sy = (2 * y + 1) * mh // (2 * h)
            sx = (2 * x + 1) * mw // (2 * w)
            assert up[y, x] == mask[sy, sx], (y, x)
    assert upsample_mask(mask, mh, mw) is mask


# ----------------------------------------------------------------------- contour


def test_contour_marks_both_sides_of_an_edge_only():
    mask = np.zeros((12, 12), dtype=np.uint8)
    mask[4:8, 4:8] = 1  # a square, display 16..32 at 4x
    frame = const_frame(48, 48)
    out = render_overlay(frame, mask, PAL3, "contour", 1.0)
    changed = (out != frame).any(axis=2)
    # an anti-aliased line about 2 px wide along the square's sides, nothing elsewhere
    y, x = np.nonzero(changed)
    dist = np.minimum.reduce([abs(x - 16), abs(x - 32), abs(y - 16), abs(y - 32)])
    assert dist.max() <= 3  # (the rounded corners)
    for r in range(20, 29):  # every row crossing the square has both sides drawn
        assert changed[r, 14:18].any(), r
        assert changed[r, 31:35].any(), r
    assert not changed[22:26, 22:26].any()
    assert not changed[:10].any()
    # each side in its own class colour where the line is full
    assert (out[24, 15] == RED).all()
    assert (out[24, 16] == GREEN).all()


def test_contour_uniform_mask_draws_nothing_and_image_border_is_no_edge(photo):
    frame = photo[:40, :50]
    mask = np.full((10, 10), 3, dtype=np.uint8)
    np.testing.assert_array_equal(render_overlay(frame, mask, PAL3, "contour", 1.0), frame)


def test_contour_edge_is_two_pixels_wide_at_frame_resolution():
    mask = np.array([[0, 1]], dtype=np.uint8)  # 1 x 2 model mask
    frame = const_frame(8, 16)
    out = render_overlay(frame, mask, PAL3, "contour", 1.0)
    changed = (out != frame).any(axis=2)
    assert changed[:, 7].all()
    assert changed[:, 8].all()
    assert changed.sum() == 16  # columns 7 and 8 only, not an 8-px block
    assert (out[:, 7] == RED).all()
    assert (out[:, 8] == GREEN).all()


def test_contour_opacity_and_filter():
    mask = np.zeros((6, 6), dtype=np.uint8)
    mask[:, 3:] = 1
    frame = const_frame(6, 6, (100, 100, 100))
    out = render_overlay(frame, mask, PAL3, "contour", 0.5)
    assert (out[:, 2] == (178, 50, 50)).all()
    assert (out[:, 3] == (50, 178, 50)).all()
    # hiding class 0 keeps its side of the edge as the frame
    out = render_overlay(frame, mask, PAL3, "contour", 0.5, class_filter_ids=[1])
    assert (out[:, 2] == 100).all()
    assert (out[:, 3] == (50, 178, 50)).all()
    assert (out[:, [0, 1, 4, 5]] == 100).all()


# ------------------------------------------------------------------ side-by-side


def test_side_by_side_shape_and_halves(photo):
    frame = photo[:48, :64]
    mask = blocks((np.arange(6 * 8).reshape(6, 8) % 4).astype(np.uint8), 2)
    out = render_overlay(frame, mask, PAL3, "side-by-side", 0.3)
    assert out.shape == (48, 128, 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :64], frame)
    field = edge_field(mask, None, 48, 64)
    rgb, _ = colorize(field.k1, PAL3)
    inner = field.t == 255
    np.testing.assert_array_equal(out[:, 64:][inner], rgb[inner])  # full colour, no opacity


def test_side_by_side_hidden_classes_show_the_frame_on_the_right(photo):
    # renderer.js: "right = c where visible, else v"
    frame = photo[:20, :30]
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[:, 15:] = 2
    out = render_overlay(frame, mask, PAL3, "side-by-side", class_filter_ids=[2])
    right = out[:, 30:]
    np.testing.assert_array_equal(right[:, :15], frame[:, :15])
    assert (right[:, 15:] == BLUE).all()


# ------------------------------------------------------------------------- blend


def test_blend_keeps_brightness_on_visible_pixels(photo):
    frame = photo
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[:, 16:] = 1
    mask[10:20, 4:12] = 2
    palette = np.array([[200, 100, 50], [20, 180, 240], [0, 0, 0]], dtype=np.uint8)
    for a in (0.25, 0.6, 1.0):
        out = render_overlay(frame, mask, palette, "blend", a, class_filter_ids=[1, 2])
        visible = upsample_mask(mask, 512, 512) != 0
        np.testing.assert_array_equal(out.max(axis=2)[visible], frame.max(axis=2)[visible])
        np.testing.assert_array_equal(out[~visible], frame[~visible])
        assert (out[visible] != frame[visible]).any()


def test_blend_takes_hue_and_saturation_from_the_class():
    frame = np.array([[[40, 80, 160], [200, 200, 200], [0, 0, 0]]], dtype=np.uint8)
    mask = np.zeros((1, 3), dtype=np.uint8)
    out = render_overlay(frame, mask, np.array([RED]), "blend", 1.0)
    assert out[0].tolist() == [[160, 0, 0], [200, 0, 0], [0, 0, 0]]  # (V, 0, 0)
    # a non-primary colour: same hue and saturation as the class, value of the frame
    colour = np.array([[200, 100, 50]], dtype=np.uint8)
    out = render_overlay(frame[:, :2], mask[:, :2], colour, "blend", 1.0)
    assert out[0].tolist() == [[160, 80, 40], [200, 100, 50]]
    hsv_out = cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_RGB2HSV)
    hsv_c = cv2.cvtColor(colour[None].astype(np.float32) / 255, cv2.COLOR_RGB2HSV)[0, 0]
    np.testing.assert_allclose(hsv_out[0, :, :2], np.tile(hsv_c[:2], (2, 1)), atol=1e-5)
    # a black class colour desaturates to grey at the frame's value
    out = render_overlay(frame[:, :1], mask[:, :1], np.array([[0, 0, 0]]), "blend", 1.0)
    assert out[0, 0].tolist() == [160, 160, 160]


def test_blend_opacity_zero_is_frame(photo):
    frame = photo[200:260, 200:300]
    mask = (np.arange(60 * 100).reshape(60, 100) % 7).astype(np.uint8)
    out = render_overlay(frame, mask, VOC_PALETTE, "blend", 0.0)
    np.testing.assert_array_equal(out, frame)


def test_blend_partial_opacity_value():
    # v = (100, 50, 0), V = 100, c = red -> t = (100, 0, 0); a = 0.5 -> m = (100, 25, 0)
    frame = np.array([[[100, 50, 0]]], dtype=np.uint8)
    out = render_overlay(frame, np.zeros((1, 1), np.uint8), np.array([RED]), "blend", 0.5)
    assert out[0, 0].tolist() == [100, 25, 0]


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize("mode", ["fill", "", "Filled", None])
def test_bad_viz_mode(mode):
    with pytest.raises(ValueError, match="viz_mode") as info:
        render_overlay(const_frame(2, 2), np.zeros((2, 2), np.uint8), PAL3, mode)
    for valid in VIZ_MODES:
        assert valid in str(info.value)


@pytest.mark.parametrize("opacity", [-0.01, 1.01, float("nan"), True, "0.5", None])
def test_bad_opacity(opacity):
    with pytest.raises(ValueError, match="opacity"):
        render_overlay(const_frame(2, 2), np.zeros((2, 2), np.uint8), PAL3, "filled", opacity)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
        [[[0, 0, 0]]],
    ],
)
def test_bad_frame(frame):
    with pytest.raises(ValueError, match="frame"):
        render_overlay(frame, np.zeros((2, 2), np.uint8), PAL3)


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((2, 2, 1), np.uint8),
        np.zeros((2, 2), np.int64),
        np.zeros((2, 2), np.uint16),
        np.zeros((2, 0), np.uint8),
        [[0, 1]],
    ],
)
def test_bad_mask(mask):
    with pytest.raises(ValueError, match="mask"):
        render_overlay(const_frame(2, 2), mask, PAL3)
    with pytest.raises(ValueError, match="mask"):
        colorize(mask, PAL3)


@pytest.mark.parametrize(
    "palette", [np.zeros((0, 3), np.uint8), np.zeros((3, 4), np.uint8), [[0, 0, 256]], [1, 2, 3]]
)
def test_bad_palette(palette):
    with pytest.raises(ValueError, match="palette"):
        colorize(np.zeros((2, 2), np.uint8), palette)


@pytest.mark.parametrize("ids", [[-1], ["person"], "person", [1.5]])
def test_bad_class_filter_ids(ids):
    with pytest.raises(ValueError, match="class_filter_ids"):
        render_overlay(const_frame(2, 2), np.zeros((2, 2), np.uint8), PAL3, class_filter_ids=ids)


# --------------------------------------------------------------------------- PNG


def test_encode_png_round_trip(photo):
    data = encode_png(photo)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(cv2.cvtColor(back, cv2.COLOR_BGR2RGB), photo)
    grey = photo[..., 0]
    back = cv2.imdecode(np.frombuffer(encode_png(grey), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back, grey)
    with pytest.raises(ValueError, match="image"):
        encode_png(photo.astype(np.float32))


def test_colorized_png_alpha_marks_hidden_classes():
    mask = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.uint8)
    data = colorized_png(mask, PAL3, class_filter_ids=[1, 5])
    bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert bgra.shape == (2, 3, 4)
    rgba = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
    assert rgba[..., 3].tolist() == [[0, 255, 0], [0, 0, 255]]
    assert rgba[0, 1, :3].tolist() == list(GREEN)
    assert rgba[1, 2, :3].tolist() == list(BLUE)  # 5 % 3 == 2
    assert rgba[0, 0, :3].tolist() == [0, 0, 0]
    bgr = cv2.imdecode(np.frombuffer(colorized_png(mask, PAL3, alpha=False), np.uint8), -1)
    assert bgr.shape == (2, 3, 3)
    np.testing.assert_array_equal(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), colorize(mask, PAL3)[0])


# ------------------------------------------------------- parity with renderer.js

_NODE_SCRIPT = r"""
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [dir, rendererPath, palettePath] = process.argv.slice(2);
const r = await import(pathToFileURL(rendererPath).href);
const p = await import(pathToFileURL(palettePath).href);
const cfg = JSON.parse(readFileSync(`${dir}/cfg.json`, "utf8"));
const video = new Uint8ClampedArray(readFileSync(`${dir}/video.bin`));
const mask = new Uint8Array(readFileSync(`${dir}/mask.bin`));
const sibling = (name) => import(pathToFileURL(rendererPath.replace(/renderer\.js$/, name)).href);
const e = await sibling("effects.js");
const edges = await sibling("edges.js");
const mix = await sibling("edge-mix.js");
const plane = { data: mask, width: cfg.mw, height: cfg.mh };
const soft = { data: new Uint8Array(readFileSync(`${dir}/soft.bin`)), width: cfg.mw, height: 0 };
soft.height = cfg.mh;
const fields = [null, soft].map((s) => edges.edgeField(plane, s, cfg.W, cfg.H));
const level = edges.heatLevel(plane, cfg.W, cfg.H);
const softLevel = edges.heatLevel(soft, cfg.W, cfg.H);
writeFileSync(`${dir}/modes.json`, JSON.stringify(r.VIZ_MODES));
writeFileSync(`${dir}/heat.bin`, e.heatLut());
cfg.cases.forEach((c, i) => {
  const lut = p.buildLut(cfg.palette, c.keep === null ? null : new Set(c.keep));
  let res;
  if (c.mode === "confidence") {
    res = { data: e.composeConfidence(video, level, cfg.W, cfg.H, c.opacity) };
  } else {
    const f = fields[c.soft ? 1 : 0];
    if (c.soft && c.mode !== "contour") {
      // canvas.js's one pass for a soft mask
      res = mix.composeSoft(c.mode, video, softLevel, cfg.W, cfg.H, lut, c.opacity);
    } else {
      res = r.compose(c.mode, video, f.k1, cfg.W, cfg.H, lut, c.opacity, { boundary: f.line });
      mix.mixEdges(c.mode, res.data, video, f, cfg.W, cfg.H, lut, c.opacity);
    }
  }
  writeFileSync(`${dir}/out${i}.bin`, res.data);
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(
    not (RENDERER_JS.exists() and PALETTE_JS.exists()), reason="js/src/renderer.js missing"
)
def test_bit_exact_with_renderer_js(photos, tmp_path):
    """Run the browser's pure compositing functions in node and compare every byte."""
    frame = cv2.resize(photos["coffee"], (203, 151), interpolation=cv2.INTER_AREA)
    frame[:10, :10] = 0  # black pixels: V == 0 in blend
    h, w = frame.shape[:2]
    rng = np.random.default_rng(7)
    mh, mw = 37, 48  # not a divisor of the frame size: exercises the upsampling ties
    mask = cv2.resize(
        rng.integers(0, 9, (6, 8)).astype(np.uint8), (mw, mh), interpolation=cv2.INTER_NEAREST
    )
    mask[rng.random((mh, mw)) < 0.05] = 250  # speckles, and a value that wraps the palette
    palette = [[200, 100, 50], [0, 0, 0], [255, 255, 255], [20, 180, 240], [7, 3, 1]]
    cases = [
        {"mode": mode, "opacity": opacity, "keep": keep, "soft": soft}
        for mode in (*CLASS_MODES, "confidence")
        for opacity in (0.0, 0.37, 0.6, 1.0)
        for keep in (None, [0, 3, 250], [1])
        for soft in (False, True)
        if not (soft and mode == "confidence")
    ]
    # the person profile's probability: smooth blobs (its classes 0 and 1 from it)
    yy, xx = np.mgrid[0:mh, 0:mw]
    soft = np.clip(128 + 90 * np.sin(xx / 5.0) * np.cos(yy / 4.0), 0, 255).astype(np.uint8)
    (tmp_path / "soft.bin").write_bytes(soft.tobytes())
    rgba = np.dstack([frame, np.full((h, w), 255, np.uint8)])
    (tmp_path / "video.bin").write_bytes(rgba.tobytes())
    (tmp_path / "mask.bin").write_bytes(mask.tobytes())
    cfg = {"mw": mw, "mh": mh, "W": w, "H": h, "palette": palette, "cases": cases}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    script = tmp_path / "parity.mjs"
    script.write_text(_NODE_SCRIPT)
    subprocess.run(
        ["node", str(script), str(tmp_path), str(RENDERER_JS), str(PALETTE_JS)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # one list of modes, one heat map
    assert tuple(json.loads((tmp_path / "modes.json").read_text())) == VIZ_MODES
    js_heat = np.frombuffer((tmp_path / "heat.bin").read_bytes(), np.uint8).reshape(256, 3)
    np.testing.assert_array_equal(heat_lut(), js_heat)
    for i, case in enumerate(cases):
        # the confidence view reads the mask bytes as the person alpha
        conf = mask if case["mode"] == "confidence" else soft if case["soft"] else None
        ours = render_overlay(
            frame, mask, np.array(palette), case["mode"], case["opacity"], case["keep"],
            confidence=conf,
        )  # fmt: skip
        js = np.frombuffer((tmp_path / f"out{i}.bin").read_bytes(), np.uint8)
        js = js.reshape(h, -1, 4)
        assert (js[..., 3] == 255).all()
        np.testing.assert_array_equal(ours, js[..., :3], err_msg=str(case))
