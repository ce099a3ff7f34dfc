import assert from "node:assert/strict";
import { test } from "node:test";

import { evenSide, frameEncoding, rgbaToI420 } from "../src/pixels.js";

/** @param {number} w @param {number} h @param {(x: number, y: number) => number[]} f */
function image(w, h, f) {
  const out = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [r, g, b] = f(x, y);
      out.set([r, g, b, 255], (y * w + x) * 4);
    }
  return out;
}

test("frame encoding: i420 on loopback, jpeg elsewhere, the setting wins", () => {
  assert.equal(frameEncoding("auto", "localhost"), "i420");
  assert.equal(frameEncoding("auto", "127.0.0.1"), "i420");
  assert.equal(frameEncoding(undefined, "[::1]"), "i420");
  assert.equal(frameEncoding("auto", "colab.research.google.com"), "jpeg");
  assert.equal(frameEncoding("auto", "192.168.1.7"), "jpeg");
  assert.equal(frameEncoding("jpeg", "localhost"), "jpeg");
  assert.equal(frameEncoding("i420", "example.org"), "i420");
});

test("even sides for chroma subsampling", () => {
  assert.deepEqual([evenSide(320), evenSide(239), evenSide(1), evenSide(2)], [320, 238, 2, 2]);
});

test("I420 of known colours matches BT.601 limited range", () => {
  // black, white, red, green, blue: the standard studio-swing values
  const cases = [
    [[0, 0, 0], [16, 128, 128]],
    [[255, 255, 255], [235, 128, 128]],
    [[255, 0, 0], [82, 90, 240]],
    [[0, 255, 0], [145, 54, 34]],
    [[0, 0, 255], [41, 240, 110]],
  ];
  for (const [rgb, yuv] of cases) {
    const out = rgbaToI420(image(2, 2, () => rgb), 2, 2);
    assert.equal(out.length, 6);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(out[i] - yuv[0]) <= 1, `Y of ${rgb}: ${out[i]}`);
    assert.ok(Math.abs(out[4] - yuv[1]) <= 1, `U of ${rgb}: ${out[4]}`);
    assert.ok(Math.abs(out[5] - yuv[2]) <= 1, `V of ${rgb}: ${out[5]}`);
  }
});

test("planes are laid out Y, U, V and a buffer is reused", () => {
  const w = 4;
  const h = 2;
  // left block black, right block white
  const px = image(w, h, (x) => (x < 2 ? [0, 0, 0] : [255, 255, 255]));
  const reuse = new Uint8Array(12);
  const out = rgbaToI420(px, w, h, reuse);
  assert.equal(out, reuse);
  assert.deepEqual([...out.slice(0, 8)], [16, 16, 235, 235, 16, 16, 235, 235]);
  assert.deepEqual([...out.slice(8, 10)], [128, 128]); // U of both blocks
  assert.deepEqual([...out.slice(10, 12)], [128, 128]); // V
});
