// The canvas-free capture's scaling (frame-grab.js): planes to I420 at the model's size.

import assert from "node:assert/strict";
import { test } from "node:test";

import { planesToI420, scalePlane } from "../src/frame-grab.js";

test("scalePlane: 2x down is the mean of each 2x2 block, 1x is a copy", () => {
  const src = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 0, 0, 100, 100, 0, 0, 100, 101]);
  const half = new Uint8Array(4);
  scalePlane(src, 0, 4, 1, 4, 4, half, 0, 2, 2);
  assert.deepEqual([...half], [35, 55, 0, 100]); // (10+20+50+60)/4 = 35, 100.25 -> 100
  const same = new Uint8Array(16);
  scalePlane(src, 0, 4, 1, 4, 4, same, 0, 4, 4);
  assert.deepEqual([...same], [...src]);
});

test("scalePlane: strides, offsets and interleaved samples", () => {
  // two rows of 2 samples, row stride 5, starting at 1, every other byte (step 2)
  const src = Uint8Array.from([9, 4, 9, 8, 9, 9, 12, 9, 16, 9]);
  const out = new Uint8Array(1);
  scalePlane(src, 1, 5, 2, 2, 2, out, 0, 1, 1);
  assert.deepEqual([...out], [10]); // (4 + 8 + 12 + 16) / 4
});

test("planesToI420: I420 and NV12 planes give the same I420", () => {
  const w = 4;
  const h = 4;
  const y = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
  const u = Uint8Array.from([100, 110, 120, 130]);
  const v = Uint8Array.from([200, 190, 180, 170]);
  const i420 = new Uint8Array([...y, ...u, ...v]);
  const layoutI420 = [{ offset: 0, stride: 4 }, { offset: 16, stride: 2 }, { offset: 20, stride: 2 }];
  const nv12 = new Uint8Array([...y, ...[0, 1, 2, 3].flatMap((i) => [u[i], v[i]])]);
  const layoutNV12 = [{ offset: 0, stride: 4 }, { offset: 16, stride: 4 }];
  const a = planesToI420(i420, layoutI420, "I420", w, h, 2, 2);
  const b = planesToI420(nv12, layoutNV12, "NV12", w, h, 2, 2);
  assert.deepEqual([...a], [...b]);
  assert.equal(a.length, 6);
  assert.deepEqual([...a.subarray(4)], [115, 185]); // chroma means
});
