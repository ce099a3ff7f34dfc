// Which renderer the stage uses (stage-renderer.js) and the overlay layer's pixels
// (layer-renderer.js), without a DOM.

import test from "node:test";
import assert from "node:assert/strict";

import { overlayPixels } from "../src/layer-renderer.js";
import { buildLut } from "../src/palette.js";
import { choosePath } from "../src/stage-renderer.js";

const CPU = () => ({ ok: true, hardware: false, renderer: "SwiftShader", reason: "WebGL runs on the CPU here (SwiftShader)" });
const GPU = () => ({ ok: true, hardware: true, renderer: "GPU", reason: "WebGL on GPU" });
const NONE = () => ({ ok: false, hardware: false, renderer: "", reason: "WebGL is unavailable in this browser" });
const NEVER = () => {
  throw new Error("probed WebGL where the answer does not matter");
};

test("auto: the overlay over a live video for filled, contour and confidence", () => {
  for (const mode of ["filled", "contour", "confidence"]) {
    assert.equal(choosePath({ mode, live: true, webgl: NEVER }).path, "overlay");
  }
});

test("auto: WebGL for the other class modes only on a hardware GPU", () => {
  assert.equal(choosePath({ mode: "blend", live: true, webgl: GPU }).path, "webgl");
  const cpu = choosePath({ mode: "blend", live: true, webgl: CPU });
  assert.deepEqual(cpu, { path: "canvas", reason: "WebGL runs on the CPU here (SwiftShader): 2D is cheaper" });
  assert.deepEqual(choosePath({ mode: "side-by-side", live: true, webgl: NONE }), {
    path: "canvas",
    reason: "WebGL is unavailable in this browser",
  });
  // a kernel's frame is drawn with its mask: no overlay, WebGL on a GPU
  assert.equal(choosePath({ mode: "filled", live: false, webgl: GPU }).path, "webgl");
  assert.equal(choosePath({ mode: "filled", live: false, webgl: CPU }).path, "canvas");
});

test("blur and replace always use the canvas effects", () => {
  for (const setting of ["auto", "overlay", "canvas", "webgl"]) {
    for (const mode of ["blur", "replace"]) {
      assert.equal(choosePath({ setting, mode, live: true, webgl: NEVER }).path, "canvas");
    }
  }
});

test("forced paths, and their fallbacks with the reason", () => {
  assert.equal(choosePath({ setting: "canvas", mode: "filled", live: true, webgl: NEVER }).path, "canvas");
  assert.equal(choosePath({ setting: "webgl", mode: "filled", live: true, webgl: CPU }).path, "webgl");
  const none = choosePath({ setting: "webgl", mode: "filled", live: true, webgl: NONE });
  assert.equal(none.path, "overlay");
  assert.match(none.reason, /^WebGL is unavailable in this browser; filled/);
  const overlay = choosePath({ setting: "overlay", mode: "blend", live: true, webgl: GPU });
  assert.equal(overlay.path, "canvas"); // "overlay" never picks WebGL
});

test("overlay pixels: class colours at the opacity's alpha along smooth edges, hidden classes transparent", () => {
  const lut = buildLut([[0, 0, 0], [255, 0, 0], [0, 0, 255]], new Set([1, 2]));
  // 8 x 8: class 0 (hidden) in the top two rows, then class 1 on the left, class 2 on the right
  const data = new Uint8Array(64).map((_, i) => (i < 16 ? 0 : i % 8 < 4 ? 1 : 2));
  const filled = overlayPixels("filled", { data, width: 8, height: 8 }, { mode: "filled", opacity: 0.6, lut }, 15, 16);
  assert.deepEqual([filled.width, filled.height], [8, 8]); // a class mask's own size: drawImage scales it
  const px = (x, y) => [...filled.data.subarray((y * 8 + x) * 4, (y * 8 + x) * 4 + 4)];
  assert.deepEqual(px(0, 0), [0, 0, 0, 0]); // hidden: the video shows
  assert.deepEqual(px(0, 7), [255, 0, 0, 153]);
  assert.deepEqual(px(7, 7), [0, 0, 255, 153]);
  // the edge between mask pixels 3 and 4: drawImage's bilinear scaling anti-aliases it
  assert.deepEqual([px(3, 7), px(4, 7)], [[255, 0, 0, 153], [0, 0, 255, 153]]);
  // hidden above: the alpha ramps up across the edge
  const col = [0, 1, 2, 3, 4].map((y) => px(0, y)[3]);
  assert.equal(col[0], 0);
  assert.equal(col[col.length - 1], 153);
  assert.ok(col.every((a, i) => i === 0 || a >= col[i - 1]), String(col));
  // contour: an anti-aliased line along the edge, nothing away from it
  const two = { data: Uint8Array.from([1, 1, 1, 1, 2, 2, 2, 2]), width: 8, height: 1 };
  const edge = overlayPixels("contour", two, { mode: "contour", opacity: 1, lut }, 16, 1);
  const alphas = [...edge.data].filter((_, i) => i % 4 === 3);
  assert.deepEqual([alphas[0], alphas[15]], [0, 0]);
  assert.ok(alphas[7] === 255 && alphas[8] === 255, String(alphas));
  // confidence: the heat colour of the raw alpha, scaled bilinearly
  const conf = { data: Uint8Array.from([0, 255]), width: 2, height: 1 };
  const heat = overlayPixels("confidence", conf, { mode: "confidence", opacity: 0.5, lut, confidence: conf }, 6, 1);
  assert.deepEqual([...heat.data.subarray(0, 4)], [0, 0, 255, 128]);
  assert.deepEqual([heat.width, heat.height], [6, 1]); // display size: heat is not linear
  assert.deepEqual([...heat.data.subarray(20, 24)], [255, 0, 0, 128]);
});
