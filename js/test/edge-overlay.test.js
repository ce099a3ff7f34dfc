import assert from "node:assert/strict";
import { test } from "node:test";

import { composeSoft, mixEdges } from "../src/edge-mix.js";
import { MASK_SIZE_MODES, overlayAt, overlayFromField, overlayWords } from "../src/edge-overlay.js";
import { edgeField, heatLevel } from "../src/edges.js";
import { buildLut, vocPalette } from "../src/palette.js";
import { compose } from "../src/renderer.js";

/** A deterministic generator (the test must not depend on Math.random). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Blobs of a few classes with ragged edges and single-pixel specks, plus a soft ramp. */
function masks(w, h, classes, seed) {
  const rnd = lcg(seed);
  const centres = Array.from({ length: 6 }, () => [rnd() * w, rnd() * h, 3 + rnd() * w * 0.3, Math.floor(rnd() * classes)]);
  const data = new Uint8Array(w * h);
  const soft = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let k = 0;
      for (const [cx, cy, r, c] of centres) if (Math.hypot(x - cx, y - cy) < r) k = c;
      if (rnd() < 0.02) k = Math.floor(rnd() * classes);
      data[y * w + x] = k;
      const d = Math.hypot(x - w / 2, y - h / 2) - w / 4;
      soft[y * w + x] = Math.max(0, Math.min(255, Math.round(128 - 40 * d + 30 * (rnd() - 0.5))));
    }
  }
  return { classes: { data, width: w, height: h }, soft: { data: soft, width: w, height: h } };
}

/** [mask w, h, seed, display W, H]: at the mask's size, odd sizes, scaled up and down. */
const SIZES = [
  [37, 23, 1, 37, 23],
  [64, 48, 2, 64, 48],
  [1, 5, 3, 1, 5],
  [9, 1, 4, 9, 1],
  [9, 1, 4, 20, 3], // a one-row mask scaled up
  [32, 32, 5, 43, 32], // scaled up, a square mask to 4:3
  [40, 30, 6, 17, 11], // scaled down
];

test("the fill modes' overlay is the edge field's overlay, byte for byte, at any size", () => {
  const palette = vocPalette();
  const luts = [buildLut(palette, null), buildLut(palette, new Set([0, 2])), buildLut(palette, new Set([1]))];
  let edges = 0;
  for (const [w, h, seed, W, H] of SIZES) {
    const { classes, soft } = masks(w, h, 4, seed);
    for (const lut of luts) {
      for (const mode of MASK_SIZE_MODES) {
        for (const opacity of [0, 0.35, 1]) {
          for (const s of [null, soft]) {
            const field = edgeField(classes, s, W, H, { lines: false });
            edges += field.t.filter((t) => t < 255).length;
            const want = overlayFromField(mode, field, lut, opacity);
            const got = overlayAt(mode, classes, s, lut, opacity, W, H);
            assert.deepEqual(got, want, `${w}x${h} at ${W}x${H} ${mode} ${opacity} soft=${!!s}`);
          }
        }
      }
    }
  }
  assert.ok(edges > 1000, "the masks have edges to mix");
});

test("the overlay's words are built once per palette, mode and opacity", () => {
  const lut = buildLut(vocPalette(), null);
  const a = overlayWords("filled", lut, 0.5);
  assert.equal(overlayWords("filled", lut, 0.5), a);
  assert.equal(overlayWords("filled", lut, 0.5).pair(1, 2), a.pair(1, 2));
  assert.notEqual(overlayWords("filled", lut, 0.6), a);
  assert.notEqual(overlayWords("filled", buildLut(vocPalette(), null), 0.5), a); // a new palette
  // side-by-side draws opaque whatever the opacity
  assert.equal(overlayWords("side-by-side", lut, 0.2), overlayWords("side-by-side", lut, 0.9));
  const bytes = new Uint8Array(overlayWords("side-by-side", lut, 0.2).solid.buffer);
  assert.equal(bytes[4 * 3 + 3], 255);
});

test("a reused output buffer is overwritten, not blended into", () => {
  const lut = buildLut(vocPalette(), null);
  const { classes } = masks(20, 10, 3, 7);
  const fresh = overlayAt("filled", classes, null, lut, 0.5, 20, 10);
  const reused = new Uint8ClampedArray(fresh.length).fill(77);
  assert.equal(overlayAt("filled", classes, null, lut, 0.5, 20, 10, reused), reused);
  assert.deepEqual(reused, fresh);
});

test("the canvas path's one pass over a soft mask is compose and mixEdges over its field", () => {
  const palette = [[200, 100, 50], [0, 0, 0], [255, 255, 255], [20, 180, 240]];
  const luts = [buildLut(palette, null), buildLut(palette, new Set([0])), buildLut(palette, new Set([1])), buildLut(palette, new Set([2]))];
  let mixed = 0;
  for (const [w, h, seed, W, H] of SIZES) {
    const { classes, soft } = masks(w, h, 2, seed);
    const rnd = lcg(seed + 100);
    const video = Uint8ClampedArray.from({ length: W * H * 4 }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(rnd() * 256)));
    video.fill(0, 0, 16); // black pixels: V == 0 in blend
    const field = edgeField(classes, soft, W, H, { lines: false });
    const level = heatLevel(soft, W, H);
    mixed += level.filter((v) => v > 0 && v < 255).length;
    for (const lut of luts) {
      for (const mode of ["filled", "blend", "side-by-side"]) {
        for (const opacity of [0, 0.37, 1]) {
          const want = compose(/** @type {any} */ (mode), video, field.k1, W, H, lut, opacity).data;
          mixEdges(mode, want, video, field, W, H, lut, opacity);
          const got = composeSoft(mode, video, level, W, H, lut, opacity);
          assert.deepEqual(got.data, want, `${w}x${h} at ${W}x${H} ${mode} ${opacity}`);
        }
      }
    }
  }
  assert.ok(mixed > 200, "the soft masks have levels between the classes");
});
