// The anti-aliased edges of an edge field (edges.js) in the composite, two ways:
//
//   mixEdges: the per-pixel 2D path (canvas.js). renderer.js's compose draws class k1 (contour:
//     on the pixels with line > 0); this pass mixes, where t < 255, the composite of k2:
//     out = floor((t * F(k1) + (255 - t) * F(k2) + 127) / 255), F(k) the mode's colour for a
//     pixel of class k (the video where k is hidden); contour mixes F(k1) with the video by
//     `line`. segwidget/render.py does the same in integers: bit-exact.
//   overlayFromField: the overlay paths (layer-renderer.js, overlay-renderer.js): straight-
//     alpha RGBA at display size that the compositor draws over the video; the mix above
//     with the compositor's rounding (a level or two).

import { blendPixel, blendTable } from "./renderer.js";

/**
 * @typedef {import("./edges.js").EdgeField} EdgeField
 */

const word = new Uint32Array(1);
const wordBytes = new Uint8Array(word.buffer);

/** @param {number} t @param {number} f1 @param {number} f2 */
const mix = (t, f1, f2) => ((t * f1 + (255 - t) * f2 + 127) / 255) | 0;

/**
 * Mix the edges into `out` (RGBA from renderer.js's compose of field.k1).
 * @param {string} mode  a class mode
 * @param {Uint8ClampedArray} out
 * @param {Uint8ClampedArray | Uint8Array} video  RGBA, W x H
 * @param {EdgeField} field
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity  0..1
 */
export function mixEdges(mode, out, video, field, W, H, lut, opacity) {
  const { k2, t, line } = field;
  const n = W * H;
  if (mode === "contour") {
    for (let i = 0; i < n; i++) {
      const l = line[i];
      if (l === 0 || l === 255) continue;
      for (let ch = 0, o = i * 4; ch < 3; ch++) out[o + ch] = mix(l, out[o + ch], video[o + ch]);
    }
    return;
  }
  const side = mode === "side-by-side";
  const table = mode === "filled" ? blendTable(lut, opacity) : null;
  const b = 1 - opacity;
  const video32 = new Uint32Array(1);
  const videoBytes = new Uint8Array(video32.buffer);
  for (let i = 0; i < n; i++) {
    const ti = t[i];
    if (ti === 255) continue;
    const l = k2[i] * 4;
    const v = i * 4;
    const o = side ? (2 * i - (i % W) + W) * 4 : v; // the right half's pixel in a 2W-wide row
    const visible = lut[l + 3];
    if (mode === "blend" && visible) {
      for (let ch = 0; ch < 4; ch++) videoBytes[ch] = video[v + ch];
      word[0] = blendPixel(video32[0], lut, l, opacity, b);
    }
    for (let ch = 0; ch < 3; ch++) {
      const vc = video[v + ch];
      let f2 = vc;
      if (visible) {
        if (table) f2 = table[k2[i] * 768 + ch * 256 + vc];
        else if (side) f2 = lut[l + ch];
        else f2 = wordBytes[ch];
      }
      out[o + ch] = mix(ti, out[o + ch], f2);
    }
  }
}

/**
 * The overlay over the video for one result: RGBA at the field's size (straight alpha).
 * @param {string} mode  "filled", "contour" or "side-by-side" (its right half, opaque)
 * @param {EdgeField} field
 * @param {Uint8Array} lut
 * @param {number} opacity  0..1
 * @param {Uint8ClampedArray} [out]  reused when it has the right size
 * @returns {Uint8ClampedArray}
 */
export function overlayFromField(mode, field, lut, opacity, out) {
  const { k1, k2, t, line, width, height } = field;
  const n = width * height;
  const px = out && out.length === n * 4 ? out : new Uint8ClampedArray(n * 4);
  const px32 = new Uint32Array(px.buffer, px.byteOffset, n);
  const a = mode === "side-by-side" ? 1 : opacity;
  const contour = mode === "contour";
  // each visible class's colour at the full alpha, as one word (the platform's byte order)
  const solid = new Uint32Array(256);
  const solidBytes = new Uint8Array(solid.buffer);
  const A = Math.round(255 * a);
  for (let k = 0; k < 256; k++) {
    if (!lut[k * 4 + 3] || contour) continue;
    solidBytes.set([lut[k * 4], lut[k * 4 + 1], lut[k * 4 + 2], A], k * 4);
  }
  // the edge pixels' words per class pair (contour: per class) for every share 0..255
  /** @type {Map<number, Uint32Array>} */
  const pairs = new Map();
  const words = (/** @type {number} */ c1, /** @type {number} */ c2) => {
    const tab = new Uint32Array(256);
    const bytes = new Uint8Array(tab.buffer);
    for (let s = 0; s < 256; s++) bytes.set(edgePixel(contour, lut, a, c1, c2, s), s * 4);
    pairs.set(c1 * 256 + c2, tab);
    return tab;
  };
  for (let i = 0; i < n; i++) {
    if (contour ? line[i] === 0 : t[i] === 255) {
      px32[i] = solid[k1[i]]; // away from edges: one class (contour: nothing)
      continue;
    }
    const c2 = contour ? 0 : k2[i];
    const key = k1[i] * 256 + c2;
    px32[i] = (pairs.get(key) || words(k1[i], c2))[contour ? line[i] : t[i]];
  }
  return px;
}

/**
 * One edge pixel's straight-alpha RGBA: class c1 with share s of c2's (contour: c1's colour
 * at the line's coverage s).
 * @param {boolean} contour
 * @param {Uint8Array} lut
 * @param {number} a  the overlay's opacity
 * @param {number} c1
 * @param {number} c2
 * @param {number} s  0..255
 * @returns {number[]}
 */
function edgePixel(contour, lut, a, c1, c2, s) {
  const l1 = c1 * 4;
  const a1 = lut[l1 + 3] ? a : 0;
  if (contour) return [lut[l1], lut[l1 + 1], lut[l1 + 2], Math.round((255 * a1 * s) / 255)];
  const l2 = c2 * 4;
  const w1 = (a1 * s) / 255;
  const w2 = lut[l2 + 3] ? (a * (255 - s)) / 255 : 0;
  const al = w1 + w2;
  if (al <= 0) return [0, 0, 0, 0];
  const ch = (/** @type {number} */ j) => Math.round((w1 * lut[l1 + j] + w2 * lut[l2 + j]) / al);
  return [ch(0), ch(1), ch(2), Math.round(255 * al)];
}
