// The overlay paths' pixels (layer-renderer.js, overlay-renderer.js): straight-alpha RGBA that
// the compositor draws over the video, one 32-bit word per pixel looked up in tables that
// depend only on the mode, the palette and the opacity (built once, not per result).
//
//   overlayFromField: from an edge field (edges.js) of any size.
//   overlayAt: the same bytes as overlayFromField(edgeField(...)) for the fill modes,
//     without the field's four planes where it can: a soft mask's pixel depends only on its
//     bilinear level (one table lookup a pixel; at the mask's size the level is the mask);
//     at the mask's size a class mask's pixels away from edges are their class's word and
//     only the edges take the vote (edge-vote.js sameSizeEdges). This is the per-result
//     cost the live view pays.

import { sameSizeEdges } from "./edge-vote.js";
import { edgeField, heatLevel } from "./edges.js";

/**
 * @typedef {import("./edges.js").EdgeField} EdgeField
 * @typedef {import("./edges.js").Plane} Plane
 * @typedef {{solid: Uint32Array, pair: (c1: number, c2: number) => Uint32Array}} Words
 */

/** Modes overlayAt draws (contour lines come from a field at the display's size). */
export const MASK_SIZE_MODES = new Set(["filled", "side-by-side"]);

/** @type {WeakMap<Uint8Array, Map<string, Words>>} */
const cache = new WeakMap();

/**
 * The words of a mode, palette and opacity: `solid[k]` a pixel of class k away from edges,
 * `pair(c1, c2)[s]` an edge pixel of class c1 with share s (0..255) of c2's (contour: c1's
 * colour at the line's coverage s). Kept per palette (the LUT object) while it is in use.
 * @param {string} mode
 * @param {Uint8Array} lut
 * @param {number} opacity  0..1
 * @returns {Words}
 */
export function overlayWords(mode, lut, opacity) {
  let byLut = cache.get(lut);
  if (!byLut) cache.set(lut, (byLut = new Map()));
  const contour = mode === "contour";
  const a = mode === "side-by-side" ? 1 : opacity;
  const key = `${contour}/${a}`;
  const hit = byLut.get(key);
  if (hit) return hit;
  if (byLut.size > 16) byLut.clear(); // an opacity slider dragged through many values
  // each visible class's colour at the full alpha, as one word (the platform's byte order)
  const solid = new Uint32Array(256);
  const solidBytes = new Uint8Array(solid.buffer);
  const A = Math.round(255 * a);
  for (let k = 0; k < 256; k++) {
    if (!lut[k * 4 + 3] || contour) continue;
    solidBytes.set([lut[k * 4], lut[k * 4 + 1], lut[k * 4 + 2], A], k * 4);
  }
  /** @type {Map<number, Uint32Array>} */
  const pairs = new Map();
  const pair = (/** @type {number} */ c1, /** @type {number} */ c2) => {
    const key = c1 * 256 + c2;
    let tab = pairs.get(key);
    if (tab) return tab;
    tab = new Uint32Array(256);
    const bytes = new Uint8Array(tab.buffer);
    for (let s = 0; s < 256; s++) bytes.set(edgePixel(contour, lut, a, c1, c2, s), s * 4);
    pairs.set(key, tab);
    return tab;
  };
  const words = { solid, pair };
  byLut.set(key, words);
  return words;
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
  const px = sized(out, n);
  const px32 = new Uint32Array(px.buffer, px.byteOffset, n);
  const { solid, pair } = overlayWords(mode, lut, opacity);
  const contour = mode === "contour";
  for (let i = 0; i < n; i++) {
    if (contour ? line[i] === 0 : t[i] === 255) px32[i] = solid[k1[i]]; // one class (contour: nothing)
    else px32[i] = pair(k1[i], contour ? 0 : k2[i])[contour ? line[i] : t[i]];
  }
  return px;
}

/**
 * The overlay of a fill mode at w x h: overlayFromField(edgeField(classes, soft, w, h)).
 * @param {string} mode  one of MASK_SIZE_MODES
 * @param {Plane} classes
 * @param {Plane | null} soft  the person probability (classes 0 and 1 from it), or null
 * @param {Uint8Array} lut
 * @param {number} opacity  0..1
 * @param {number} w
 * @param {number} h
 * @param {Uint8ClampedArray} [out]  reused when it has the right size
 * @returns {Uint8ClampedArray}
 */
export function overlayAt(mode, classes, soft, lut, opacity, w, h, out) {
  const same = w === classes.width && h === classes.height;
  if (!soft && !same) return overlayFromField(mode, edgeField(classes, null, w, h, { lines: false }), lut, opacity, out);
  const n = w * h;
  const px = sized(out, n);
  const px32 = new Uint32Array(px.buffer, px.byteOffset, n);
  const { solid, pair } = overlayWords(mode, lut, opacity);
  if (soft) {
    // the bilinear level v: person (1) with share v from 128 up, else background (0) with
    // share 255 - v (edges.js: person where the sum is at least half, share its rounding)
    const level = new Uint32Array(256);
    for (let v = 0; v < 256; v++) {
      const [k1, k2, t] = v >= 128 ? [1, 0, v] : [0, 1, 255 - v];
      level[v] = t === 255 ? solid[k1] : pair(k1, k2)[t];
    }
    const data = w === soft.width && h === soft.height ? soft.data : heatLevel(soft, w, h);
    for (let i = 0; i < n; i++) px32[i] = level[data[i]];
    return px;
  }
  const data = classes.data;
  for (let i = 0; i < n; i++) px32[i] = solid[data[i]];
  sameSizeEdges(classes, (i, k1, k2, t) => {
    px32[i] = t === 255 ? solid[k1] : pair(k1, k2)[t];
  });
  return px;
}

/** @param {Uint8ClampedArray | undefined} out @param {number} n */
function sized(out, n) {
  return out && out.length === n * 4 ? out : new Uint8ClampedArray(n * 4);
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
