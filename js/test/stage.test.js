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

test("overlay pixels: class colours at the opacity's alpha, hidden classes transparent", () => {
  const lut = buildLut([[0, 0, 0], [255, 0, 0], [0, 0, 255]], new Set([1, 2]));
  const mask = { data: Uint8Array.from([0, 1, 2, 1]), width: 2, height: 2 };
  const filled = overlayPixels("filled", mask, { mode: "filled", opacity: 0.6, lut }, 4, 4);
  assert.deepEqual([filled.width, filled.height], [2, 2]); // mask resolution: CSS scales it
  assert.deepEqual([...filled.data], [0, 0, 0, 0, 255, 0, 0, 153, 0, 0, 255, 153, 255, 0, 0, 153]);
  // contour: at display size, only the pixels next to another class
  const two = { data: Uint8Array.from([1, 2]), width: 2, height: 1 };
  const edge = overlayPixels("contour", two, { mode: "contour", opacity: 1, lut }, 6, 1);
  assert.deepEqual([edge.width, edge.height], [6, 1]);
  assert.deepEqual([...edge.data].filter((_, i) => i % 4 === 3), [0, 0, 255, 255, 0, 0]);
  // confidence: the heat colour of the raw alpha everywhere
  const conf = { data: Uint8Array.from([0, 255]), width: 2, height: 1 };
  const heat = overlayPixels("confidence", two, { mode: "confidence", opacity: 0.5, lut, confidence: conf }, 6, 1);
  assert.deepEqual([...heat.data], [0, 0, 255, 128, 255, 0, 0, 128]);
});
