// Client-side rendering of the uint8 class-index mask over the video.
//
// The pixel maths lives in pure functions on typed arrays (no DOM) so node can test it and
// segwidget's numpy renderer can reproduce it exactly. The rules, per pixel and channel:
//
//   v = video RGB (0..255), W x H = display size (the video's size).
//   Edges: the mask arrives at display size as an edge field's k1 (edges.js: the bilinear
//     one-hot vote, or the person probability); these functions draw k1, and edge-mix.js then
//     mixes in k2 along the anti-aliased edges (and the contour's line coverage).
//   LUT: class k -> palette[k % len(palette)], "visible" unless the class filter hides k.
//     Only filtered-out classes are hidden; hidden pixels always keep the video colour v.
//   a = opacity (0..1), c = class colour, round(x) = floor(x + 0.5) (half up), float64 maths
//     evaluated in the order written.
//   filled:       out = round(v * (1 - a) + c * a)
//   contour:      out = line > 0 ? round(v * (1 - a) + c * a) : v (the edge field's line;
//                 edge-mix.js mixes it with v by the line's coverage)
//   side-by-side: width 2W; left = v; right = c where visible, else v.
//   blend (HSV):  V = max(v_r, v_g, v_b) (the video's HSV value);
//                 t = c * V / max(c) (class hue and saturation at the video's value), or
//                     (V, V, V) when max(c) == 0 (a black class colour desaturates);
//                 m = v * (1 - a) + t * a;  M = max(m);
//                 out = M > 0 ? round(m * V / M) : 0    (so max(out) == V: brightness kept)
//   Output alpha is always 255.
//   blur, replace, confidence: see effects.js. mirror flips the video and the mask together.

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Mask
 * @typedef {"filled" | "contour" | "side-by-side" | "blend" | "blur" | "replace" | "confidence"} VizMode
 */

import { EFFECT_MODES } from "./effects.js";
import { boundaryMap } from "./mask-geometry.js";

/** Every mode, in the toolbar's order; segwidget/render.py's VIZ_MODES is the same list. */
export const VIZ_MODES = /** @type {VizMode[]} */ (["filled", "contour", "side-by-side", "blend", ...EFFECT_MODES]);

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const [SR, SG, SB, SA] = LITTLE_ENDIAN ? [0, 8, 16, 24] : [24, 16, 8, 0];
const OPAQUE = (255 << SA) >>> 0;
/** Where R, G and B sit in a pixel's 32-bit word (the platform's byte order), and its opaque
 * alpha. An object, not exported bindings: V8 reads an exported const through a checked cell
 * on every use (composeBlend at 640x480 took 6.6 ms that way, 4.9 ms with private consts). */
export const PIXEL = Object.freeze({ SR, SG, SB, OPAQUE });

/**
 * RGBA bytes as one 32-bit word per pixel (a view, or an aligned copy for odd offsets).
 * @param {Uint8ClampedArray | Uint8Array} bytes
 */
export function words(bytes) {
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  return new Uint32Array(Uint8Array.from(bytes).buffer);
}

/**
 * @param {number} n  number of RGBA bytes
 * @param {Uint8ClampedArray | undefined} out  reused when it has the right size
 */
export function outBuffer(n, out) {
  return out && out.length === n && out.byteOffset % 4 === 0 ? out : new Uint8ClampedArray(n);
}

/** @type {WeakMap<Uint8Array, {opacity: number, table: Uint8Array}>} */
const blendTables = new WeakMap();

/**
 * The filled-mode result for every (class, channel, video value): entry
 * `k * 768 + ch * 256 + v` is round(v * (1 - a) + c * a) for class k's colour c. Cached per
 * LUT and opacity, so each frame costs three look-ups per pixel.
 * @param {Uint8Array} lut
 * @param {number} a
 */
export function blendTable(lut, a) {
  const cached = blendTables.get(lut);
  if (cached && cached.opacity === a) return cached.table;
  const table = new Uint8Array(256 * 768);
  const b = 1 - a;
  for (let k = 0; k < 256; k++) {
    if (!lut[k * 4 + 3]) continue;
    for (let ch = 0; ch < 3; ch++) {
      const c = lut[k * 4 + ch];
      const base = k * 768 + ch * 256;
      for (let v = 0; v < 256; v++) table[base + v] = Math.floor(v * b + c * a + 0.5);
    }
  }
  blendTables.set(lut, { opacity: a, table });
  return table;
}

/**
 * The filled mode's colour of video word `px` under visible class k, from blendTable: its
 * RGB bits (the caller adds the alpha; see blendPixel).
 * @param {Uint8Array} table
 * @param {number} k
 * @param {number} px
 */
export function filledWord(table, k, px) {
  const base = k * 768;
  return (table[base + ((px >>> SR) & 255)] << SR) | (table[base + 256 + ((px >>> SG) & 255)] << SG) | (table[base + 512 + ((px >>> SB) & 255)] << SB);
}

/** @param {Uint8Array} lut  each class's colour as RGB bits (the caller adds the alpha) */
export function classWords(lut) {
  const out = new Int32Array(256);
  for (let k = 0; k < 256; k++) out[k] = (lut[k * 4] << SR) | (lut[k * 4 + 1] << SG) | (lut[k * 4 + 2] << SB);
  return out;
}

/**
 * filled: alpha-blend visible classes over the video.
 * @param {Uint8ClampedArray | Uint8Array} video  RGBA, W x H
 * @param {Uint8Array} mask  H x W class indices (already at display size)
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut  from buildLut
 * @param {number} opacity  0..1
 * @param {Uint8ClampedArray} [out]  reused when it has the right size
 * @returns {Uint8ClampedArray}  RGBA, W x H
 */
export function composeFilled(video, mask, W, H, lut, opacity, out) {
  return blendWhere(video, mask, null, W, H, lut, opacity, out);
}

/**
 * contour: blend only class-boundary pixels (see boundaryMap).
 * @param {Uint8ClampedArray | Uint8Array} video
 * @param {Uint8Array} mask
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity
 * @param {Uint8ClampedArray} [out]
 * @param {Uint8Array} [boundary]  precomputed boundaryMap(mask, W, H)
 * @returns {Uint8ClampedArray}
 */
export function composeContour(video, mask, W, H, lut, opacity, out, boundary) {
  return blendWhere(video, mask, boundary || boundaryMap(mask, W, H), W, H, lut, opacity, out);
}

/**
 * @param {Uint8ClampedArray | Uint8Array} video
 * @param {Uint8Array} mask
 * @param {Uint8Array | null} where  only pixels with where[i] != 0, or all when null
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity
 * @param {Uint8ClampedArray} [out]
 */
function blendWhere(video, mask, where, W, H, lut, opacity, out) {
  const n = W * H;
  const dstBytes = outBuffer(n * 4, out);
  const src = words(video);
  const dst = words(dstBytes);
  const t = blendTable(lut, opacity);
  for (let i = 0; i < n; i++) {
    const k = mask[i];
    const px = src[i];
    if (lut[k * 4 + 3] && (!where || where[i])) {
      // filledWord written out: through the call this loop measured 6-7 % slower in node
      const base = k * 768;
      dst[i] =
        (t[base + ((px >>> SR) & 255)] << SR) |
        (t[base + 256 + ((px >>> SG) & 255)] << SG) |
        (t[base + 512 + ((px >>> SB) & 255)] << SB) |
        OPAQUE;
    } else {
      dst[i] = px | OPAQUE;
    }
  }
  return dstBytes;
}

/**
 * side-by-side: video on the left, the colourised mask on the right (canvas 2W wide).
 * Hidden classes show the video on the right too.
 * @param {Uint8ClampedArray | Uint8Array} video
 * @param {Uint8Array} mask
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {Uint8ClampedArray} [out]
 * @returns {Uint8ClampedArray}  RGBA, 2W x H
 */
export function composeSideBySide(video, mask, W, H, lut, out) {
  const dstBytes = outBuffer(W * H * 8, out);
  const src = words(video);
  const dst = words(dstBytes);
  const colors = classWords(lut);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    const o = 2 * row;
    for (let x = 0; x < W; x++) {
      const i = row + x;
      const px = src[i] | OPAQUE;
      dst[o + x] = px;
      dst[o + W + x] = lut[mask[i] * 4 + 3] ? colors[mask[i]] | OPAQUE : px;
    }
  }
  return dstBytes;
}

/**
 * blend: hue and saturation from the class colour, brightness (HSV value) from the video.
 * @param {Uint8ClampedArray | Uint8Array} video
 * @param {Uint8Array} mask
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity
 * @param {Uint8ClampedArray} [out]
 * @returns {Uint8ClampedArray}
 */
export function composeBlend(video, mask, W, H, lut, opacity, out) {
  const n = W * H;
  const dstBytes = outBuffer(n * 4, out);
  const src = words(video);
  const dst = words(dstBytes);
  const terms = blendTerms(lut, opacity);
  for (let i = 0; i < n; i++) {
    const px = src[i];
    const k = mask[i];
    dst[i] = (lut[k * 4 + 3] ? blendPixel(px, terms.of(k)) : px) | OPAQUE;
  }
  return dstBytes;
}

/** @type {WeakMap<Uint8Array, BlendTerms>} */
const blendCache = new WeakMap();

/**
 * The blend mode's terms for a LUT and opacity (kept while both stay), per class on first use.
 * @param {Uint8Array} lut
 * @param {number} a  opacity
 */
export function blendTerms(lut, a) {
  let terms = blendCache.get(lut);
  if (!terms || terms.a !== a) blendCache.set(lut, (terms = new BlendTerms(lut, a)));
  return terms;
}

/**
 * blendPixel's products that depend on one value, computed once instead of per pixel (the
 * same float64 operations, so the same bits): for class k, entry ch * 256 + V is t_ch * a
 * (t: the class colour at the video's value V) and 768 + v is v * (1 - a).
 */
class BlendTerms {
  /** @param {Uint8Array} lut @param {number} a */
  constructor(lut, a) {
    this.lut = lut;
    this.a = a;
    /** @type {(Float64Array | undefined)[]} */
    this.byClass = [];
  }

  /** @param {number} k */
  of(k) {
    return this.byClass[k] || (this.byClass[k] = this._build(k));
  }

  /** @param {number} k */
  _build(k) {
    const { lut, a } = this;
    const b = 1 - a;
    const [cr, cg, cb] = [lut[k * 4], lut[k * 4 + 1], lut[k * 4 + 2]];
    const cmax = Math.max(cr, cg, cb);
    const out = new Float64Array(1024);
    for (let V = 0; V < 256; V++) {
      // a black class colour desaturates: t = (V, V, V)
      out[V] = (cmax > 0 ? (cr * V) / cmax : V) * a;
      out[256 + V] = (cmax > 0 ? (cg * V) / cmax : V) * a;
      out[512 + V] = (cmax > 0 ? (cb * V) / cmax : V) * a;
      out[768 + V] = V * b;
    }
    return out;
  }
}

/**
 * One blend-mode pixel of video word `px` under a visible class: its RGB bits, without the
 * alpha (the caller's `| OPAQUE`: a word with the top bit set is a boxed number in V8 when a
 * call is not inlined, so colours travel as 24 bits).
 * @param {number} px
 * @param {Float64Array} terms  the class's (blendTerms(lut, opacity).of(k))
 */
export function blendPixel(px, terms) {
  const vr = (px >>> SR) & 255;
  const vg = (px >>> SG) & 255;
  const vb = (px >>> SB) & 255;
  const V = Math.max(vr, vg, vb);
  const mr = terms[768 + vr] + terms[V];
  const mg = terms[768 + vg] + terms[256 + V];
  const mb = terms[768 + vb] + terms[512 + V];
  const M = Math.max(mr, mg, mb);
  return M > 0 ? (Math.floor((mr * V) / M + 0.5) << SR) | (Math.floor((mg * V) / M + 0.5) << SG) | (Math.floor((mb * V) / M + 0.5) << SB) : 0;
}

/**
 * Compose one output image in any mode. `mask` must already be W x H (the edge field's k1).
 * @param {VizMode} mode
 * @param {Uint8ClampedArray | Uint8Array} video  RGBA, W x H
 * @param {Uint8Array} mask
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity
 * @param {{out?: Uint8ClampedArray, boundary?: Uint8Array}} [reuse]
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
export function compose(mode, video, mask, W, H, lut, opacity, reuse = {}) {
  const a = Math.min(1, Math.max(0, Number(opacity) || 0));
  switch (mode) {
    case "contour":
      return { data: composeContour(video, mask, W, H, lut, a, reuse.out, reuse.boundary), width: W, height: H };
    case "side-by-side":
      return { data: composeSideBySide(video, mask, W, H, lut, reuse.out), width: 2 * W, height: H };
    case "blend":
      return { data: composeBlend(video, mask, W, H, lut, a, reuse.out), width: W, height: H };
    default:
      return { data: composeFilled(video, mask, W, H, lut, a, reuse.out), width: W, height: H };
  }
}
