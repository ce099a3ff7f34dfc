import assert from "node:assert/strict";
import { test } from "node:test";

import { boundaryMap, nearestIndex, upsampleNearest } from "../src/mask-geometry.js";
import { buildLut, filterIndices } from "../src/palette.js";
import { compose, composeBlend, composeContour, composeFilled, composeSideBySide } from "../src/renderer.js";

const RED = [200, 0, 0];
const GREEN = [0, 100, 0];
const BLUE = [0, 0, 250];
const PALETTE = [RED, GREEN, BLUE];
const LABELS = ["zero", "one", "two"];
const LUT = buildLut(PALETTE, null);

/** RGBA image of W x H filled with one colour, or from a function of the pixel index. */
function image(W, H, rgb) {
  const out = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    const [r, g, b] = typeof rgb === "function" ? rgb(i) : rgb;
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}
const px = (img, W, x, y) => [...img.subarray((y * W + x) * 4, (y * W + x) * 4 + 4)];

test("nearestIndex aligns pixel centres", () => {
  assert.deepEqual([...nearestIndex(2, 4)], [0, 0, 1, 1]);
  assert.deepEqual([...nearestIndex(2, 6)], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...nearestIndex(3, 4)], [0, 1, 1, 2]); // centres 0.375, 1.125, 1.875, 2.625
  assert.deepEqual([...nearestIndex(4, 2)], [1, 3]);
  assert.deepEqual([...nearestIndex(5, 5)], [0, 1, 2, 3, 4]);
  const idx = nearestIndex(320, 1280);
  assert.equal(idx[0], 0);
  assert.equal(idx[1279], 319);
  assert.equal(idx[3], 0);
  assert.equal(idx[4], 1);
});

test("upsampleNearest: each mask cell becomes a block aligned to the video", () => {
  const mask = new Uint8Array([1, 2, 3, 4, 5, 6]); // 3 x 2
  const up = upsampleNearest(mask, 3, 2, 6, 4);
  assert.deepEqual(
    [...up],
    [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6],
  );
  assert.equal(upsampleNearest(mask, 3, 2, 3, 2), mask); // same size: untouched
  // non-integer factor 2 -> 3: centres 1/3, 1, 5/3 give [0, 1, 1] (floor(x * 2 / 3): [0, 0, 1])
  assert.deepEqual([...upsampleNearest(new Uint8Array([7, 9]), 2, 1, 3, 1)], [7, 9, 9]);
  // non-integer factor 3 -> 4: centre rule gives [0, 1, 1, 2] where floor(x * 3 / 4) gives [0, 0, 1, 2]
  assert.deepEqual([...upsampleNearest(new Uint8Array([5, 6, 7]), 3, 1, 4, 1)], [5, 6, 6, 7]);
});

test("filled: alpha blend with opacity; filtered classes keep the video colour", () => {
  const W = 2;
  const H = 1;
  const video = image(W, H, [100, 100, 100]);
  const mask = new Uint8Array([0, 1]);
  const out = composeFilled(video, mask, W, H, LUT, 0.5);
  assert.deepEqual(px(out, W, 0, 0), [150, 50, 50, 255]); // 100*.5 + (200, 0, 0)*.5
  assert.deepEqual(px(out, W, 1, 0), [50, 100, 50, 255]);
  const lut = buildLut(PALETTE, filterIndices(["one"], LABELS));
  const filtered = composeFilled(video, mask, W, H, lut, 0.5);
  assert.deepEqual(px(filtered, W, 0, 0), [100, 100, 100, 255]); // class 0 filtered out: video
  assert.deepEqual(px(filtered, W, 1, 0), [50, 100, 50, 255]);
  // opacity 0 is the video, 1 is the palette colour; rounding is half up
  assert.deepEqual(px(composeFilled(video, mask, W, H, LUT, 0), W, 1, 0), [100, 100, 100, 255]);
  assert.deepEqual(px(composeFilled(video, mask, W, H, LUT, 1), W, 1, 0), [0, 100, 0, 255]);
  const odd = composeFilled(image(1, 1, [101, 0, 0]), new Uint8Array([2]), 1, 1, LUT, 0.5);
  assert.deepEqual(px(odd, 1, 0, 0), [51, 0, 125, 255]); // 50.5 -> 51, 125
});

test("boundaryMap marks pixels with a 4-neighbour of another class, on both sides", () => {
  // 4 x 3: left two columns class 0, right two class 1, one pixel of class 2 in a corner
  const mask = new Uint8Array([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 2]);
  assert.deepEqual([...boundaryMap(mask, 4, 3)], [0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1]);
  assert.deepEqual([...boundaryMap(new Uint8Array(9).fill(3), 3, 3)], new Array(9).fill(0)); // one class: none
  // diagonal neighbours do not count
  assert.deepEqual([...boundaryMap(new Uint8Array([0, 1, 1, 1]), 2, 2)], [1, 1, 1, 0]);
});

test("contour: only boundary pixels change, in their own class colour, 2 px across an edge", () => {
  const W = 6;
  const H = 2;
  const video = image(W, H, [10, 10, 10]);
  const mask = new Uint8Array([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
  const out = composeContour(video, mask, W, H, LUT, 1);
  for (let y = 0; y < H; y++) {
    assert.deepEqual(px(out, W, 0, y), [10, 10, 10, 255]);
    assert.deepEqual(px(out, W, 1, y), [10, 10, 10, 255]);
    assert.deepEqual(px(out, W, 2, y), [...RED, 255]);
    assert.deepEqual(px(out, W, 3, y), [...GREEN, 255]);
    assert.deepEqual(px(out, W, 4, y), [10, 10, 10, 255]);
    assert.deepEqual(px(out, W, 5, y), [10, 10, 10, 255]);
  }
  // the same opacity rule as filled
  assert.deepEqual(px(composeContour(video, mask, W, H, LUT, 0.5), W, 3, 0), [5, 55, 5, 255]);
  // filtered classes draw no contour
  const lut = buildLut(PALETTE, filterIndices(["one"], LABELS));
  const f = composeContour(video, mask, W, H, lut, 1);
  assert.deepEqual(px(f, W, 2, 0), [10, 10, 10, 255]);
  assert.deepEqual(px(f, W, 3, 0), [...GREEN, 255]);
});

test("contour of an upsampled mask is about 2 px wide at display size", () => {
  const mask = new Uint8Array([0, 1]); // 2 x 1 mask shown at 8 x 2
  const up = upsampleNearest(mask, 2, 1, 8, 2);
  const out = composeContour(image(8, 2, [0, 0, 0]), up, 8, 2, LUT, 1);
  const drawn = [];
  for (let x = 0; x < 8; x++) drawn.push(px(out, 8, x, 0)[0] !== 0 || px(out, 8, x, 0)[1] !== 0);
  assert.deepEqual(drawn, [false, false, false, true, true, false, false, false]);
});

test("side-by-side: twice as wide, video left, colourised mask right", () => {
  const W = 2;
  const H = 2;
  const video = image(W, H, (i) => [i * 10, i * 10 + 1, i * 10 + 2]);
  const mask = new Uint8Array([0, 1, 2, 1]);
  const r = compose("side-by-side", video, mask, W, H, LUT, 0.3);
  assert.equal(r.width, 4);
  assert.equal(r.height, 2);
  assert.equal(r.data.length, 4 * 2 * 4);
  assert.deepEqual(px(r.data, 4, 0, 0), [0, 1, 2, 255]);
  assert.deepEqual(px(r.data, 4, 1, 0), [10, 11, 12, 255]);
  assert.deepEqual(px(r.data, 4, 0, 1), [20, 21, 22, 255]);
  assert.deepEqual(px(r.data, 4, 2, 0), [...RED, 255]); // opacity does not apply on the mask side
  assert.deepEqual(px(r.data, 4, 3, 0), [...GREEN, 255]);
  assert.deepEqual(px(r.data, 4, 2, 1), [...BLUE, 255]);
  const lut = buildLut(PALETTE, filterIndices(["two"], LABELS));
  const f = composeSideBySide(video, mask, W, H, lut);
  assert.deepEqual(px(f, 4, 2, 0), [0, 1, 2, 255]); // hidden class: the video pixel
  assert.deepEqual(px(f, 4, 2, 1), [...BLUE, 255]);
});

test("blend keeps the video's brightness (HSV value) and takes the class hue", () => {
  const W = 3;
  const H = 1;
  const video = image(W, H, (i) => [[120, 60, 30], [200, 200, 200], [0, 0, 0]][i]);
  const mask = new Uint8Array([1, 2, 0]);
  const full = composeBlend(video, mask, W, H, LUT, 1);
  assert.deepEqual(px(full, W, 0, 0), [0, 120, 0, 255]); // pure green hue at V = 120
  assert.deepEqual(px(full, W, 1, 0), [0, 0, 200, 255]); // pure blue hue at V = 200
  assert.deepEqual(px(full, W, 2, 0), [0, 0, 0, 255]); // black stays black
  const half = composeBlend(video, mask, W, H, LUT, 0.5);
  // m = (60, 90, 15), M = 90 -> scaled to V = 120: (80, 120, 20)
  assert.deepEqual(px(half, W, 0, 0), [80, 120, 20, 255]);
  // random pixels: max(out) == max(video) whatever the class colour and opacity
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 256;
  const n = 500;
  const v = image(n, 1, () => [rnd(), rnd(), rnd()]);
  const m = new Uint8Array(n).map(() => rnd() % 3);
  const palette = [
    [0, 0, 0],
    [255, 128, 7],
    [17, 200, 90],
  ];
  for (const a of [0, 0.3, 0.6, 1]) {
    const out = composeBlend(v, m, n, 1, buildLut(palette, null), a);
    for (let i = 0; i < n; i++) {
      const V = Math.max(v[i * 4], v[i * 4 + 1], v[i * 4 + 2]);
      assert.equal(Math.max(out[i * 4], out[i * 4 + 1], out[i * 4 + 2]), V);
    }
  }
  // a black class colour desaturates to grey at the same brightness
  const grey = composeBlend(image(1, 1, [30, 90, 60]), new Uint8Array([0]), 1, 1, buildLut(palette, null), 1);
  assert.deepEqual(px(grey, 1, 0, 0), [90, 90, 90, 255]);
  // filtered classes keep the video colour
  const lut = buildLut(PALETTE, filterIndices(["two"], LABELS));
  assert.deepEqual(px(composeBlend(video, mask, W, H, lut, 1), W, 0, 0), [120, 60, 30, 255]);
});

test("compose dispatches modes, clamps opacity and reuses the output buffer", () => {
  const video = image(2, 1, [100, 100, 100]);
  const mask = new Uint8Array([0, 1]);
  const out = new Uint8ClampedArray(8);
  const r = compose("filled", video, mask, 2, 1, LUT, 7, { out });
  assert.equal(r.data, out);
  assert.deepEqual(px(r.data, 2, 0, 0), [...RED, 255]); // opacity clamped to 1
  assert.deepEqual(px(compose("filled", video, mask, 2, 1, LUT, -1).data, 2, 0, 0), [100, 100, 100, 255]);
  assert.deepEqual(px(compose("contour", video, mask, 2, 1, LUT, 1).data, 2, 1, 0), [...GREEN, 255]);
  assert.equal(compose("blend", video, mask, 2, 1, LUT, 1).width, 2);
});

test("every mode gives the same pixels for a video view at an odd byte offset", () => {
  const W = 3;
  const H = 2;
  const video = image(W, H, (i) => [i * 40, 255 - i * 30, (i * 77) % 256]);
  const shifted = new Uint8ClampedArray(video.length + 1).subarray(1);
  shifted.set(video);
  const mask = new Uint8Array([0, 1, 2, 2, 1, 0]);
  for (const mode of ["filled", "contour", "side-by-side", "blend"]) {
    assert.deepEqual(
      [...compose(/** @type {any} */ (mode), shifted, mask, W, H, LUT, 0.45).data],
      [...compose(/** @type {any} */ (mode), video, mask, W, H, LUT, 0.45).data],
      mode,
    );
  }
});
