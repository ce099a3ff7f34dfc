// The anti-aliased edges of an edge field (edges.js) in the per-pixel 2D path (canvas.js).
// renderer.js's compose draws class k1 (contour: on the pixels with line > 0); this pass
// mixes, where t < 255, the composite of k2:
// out = floor((t * F(k1) + (255 - t) * F(k2) + 127) / 255), F(k) the mode's colour for a
// pixel of class k (the video where k is hidden); contour mixes F(k1) with the video by
// `line`. segwidget/render.py does the same in integers: bit-exact. The overlay paths' twin
// of this mix, with the compositor's rounding, is edge-overlay.js.

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
  const contour = mode === "contour";
  const at = edgePixels(field, contour);
  if (contour) {
    for (let j = 0; j < at.length; j++) {
      const i = at[j];
      const l = line[i];
      for (let ch = 0, o = i * 4; ch < 3; ch++) out[o + ch] = mix(l, out[o + ch], video[o + ch]);
    }
    return;
  }
  const side = mode === "side-by-side";
  const table = mode === "filled" ? blendTable(lut, opacity) : null;
  const b = 1 - opacity;
  const video32 = new Uint32Array(1);
  const videoBytes = new Uint8Array(video32.buffer);
  for (let j = 0; j < at.length; j++) {
    const i = at[j];
    const ti = t[i];
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

/** @type {WeakMap<EdgeField, {shares?: Int32Array, lines?: Int32Array}>} */
const edgeIndex = new WeakMap();

/**
 * The pixels an edge field mixes (t < 255; contour: 0 < line < 255), listed once per field:
 * the field lasts a result, the mix runs every video frame, and edges are a few per cent of
 * the pixels.
 * @param {EdgeField} field
 * @param {boolean} contour
 * @returns {Int32Array}
 */
function edgePixels(field, contour) {
  let entry = edgeIndex.get(field);
  if (!entry) edgeIndex.set(field, (entry = {}));
  const key = contour ? "lines" : "shares";
  const known = entry[key];
  if (known) return known;
  const { t, line } = field;
  const n = t.length;
  let count = 0;
  for (let i = 0; i < n; i++) if (contour ? line[i] !== 0 && line[i] !== 255 : t[i] !== 255) count++;
  const at = new Int32Array(count);
  for (let i = 0, j = 0; i < n; i++) if (contour ? line[i] !== 0 && line[i] !== 255 : t[i] !== 255) at[j++] = i;
  entry[key] = at;
  return at;
}
