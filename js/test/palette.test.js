import assert from "node:assert/strict";
import { test } from "node:test";

import { buildLut, cssColor, filterIndices, resolvePalette, vocPalette } from "../src/palette.js";

const LABELS = ["background", "aeroplane", "bicycle", "bird", "boat"];

test("VOC colour map has the standard colours", () => {
  const p = vocPalette();
  assert.equal(p.length, 256);
  assert.deepEqual(p[0], [0, 0, 0]);
  assert.deepEqual(p[1], [128, 0, 0]);
  assert.deepEqual(p[2], [0, 128, 0]);
  assert.deepEqual(p[15], [192, 128, 128]); // person
  assert.deepEqual(p[20], [0, 64, 128]); // tvmonitor
});

test("resolvePalette picks custom, then the server's palette, then VOC", () => {
  const palettes = { voc: [[1, 2, 3]], ade20k: [[4, 5, 6]] };
  assert.deepEqual(resolvePalette("ade20k", palettes, []), [[4, 5, 6]]);
  assert.deepEqual(resolvePalette("custom", palettes, [[9, 9, 9]]), [[9, 9, 9]]);
  assert.deepEqual(resolvePalette("custom", palettes, [])[1], [128, 0, 0]); // empty custom: fallback
  assert.deepEqual(resolvePalette("cityscapes", palettes, null)[1], [128, 0, 0]); // missing: VOC
  assert.deepEqual(resolvePalette("voc", null, null)[15], [192, 128, 128]);
});

test("filterIndices maps class names to indices; empty means all", () => {
  assert.equal(filterIndices([], LABELS), null);
  assert.equal(filterIndices(null, LABELS), null);
  assert.deepEqual([...(/** @type {Set<number>} */ (filterIndices(["bird", "aeroplane", "nope"], LABELS)))].sort(), [1, 3]);
});

test("LUT: palette[c % len] opaque for shown classes, transparent only for filtered ones", () => {
  const palette = [
    [10, 20, 30],
    [40, 50, 60],
    [70, 80, 90],
  ];
  const all = buildLut(palette, null);
  assert.equal(all.length, 1024);
  assert.deepEqual([...all.subarray(0, 4)], [10, 20, 30, 255]); // background is a class: opaque
  assert.deepEqual([...all.subarray(4 * 4, 4 * 5)], [40, 50, 60, 255]); // 4 % 3 == 1
  assert.deepEqual([...all.subarray(255 * 4, 256 * 4)], [10, 20, 30, 255]); // 255 % 3 == 0
  const some = buildLut(palette, filterIndices(["aeroplane", "bird"], LABELS));
  assert.deepEqual([...some.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual([...some.subarray(4, 8)], [40, 50, 60, 255]);
  assert.deepEqual([...some.subarray(8, 12)], [0, 0, 0, 0]);
  assert.deepEqual([...some.subarray(12, 16)], [10, 20, 30, 255]);
  assert.deepEqual([...some.subarray(200 * 4, 201 * 4)], [0, 0, 0, 0]); // not a label: hidden when filtering
  assert.equal(cssColor(palette, 4), "rgb(40, 50, 60)");
});
