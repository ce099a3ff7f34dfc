// The anti-aliased edges in the per-pixel 2D path (canvas.js).
//
//   mixEdges: a class mask's edge field (edges.js). renderer.js's compose draws class k1
//     (contour: on the pixels with line > 0); this pass mixes, where t < 255, the composite
//     of k2: out = floor((t * F(k1) + (255 - t) * F(k2) + 127) / 255), F(k) the mode's colour
//     for a pixel of class k (the video where k is hidden); contour mixes F(k1) with the
//     video by `line`. Only the field's edge pixels are visited (listed once per field).
//   composeSoft: a soft mask (the person probability) in one pass, the same bytes as compose
//     and mixEdges over its field: its classes are 1 where the bilinear level v (edges.js
//     heatLevel) is at least 128, and the mix above with t = v (or 255 - v) is then
//     floor((v * F(1) + (255 - v) * F(0) + 127) / 255) on either side.
// segwidget/render.py does the same in integers: bit-exact. The overlay paths' twin of this
// mix, with the compositor's rounding, is edge-overlay.js.

import { PIXEL, blendPixel, blendTable, blendTerms, classWords, filledWord, outBuffer, words } from "./renderer.js";

const { SR, SG, SB, OPAQUE } = PIXEL;

/**
 * @typedef {import("./edges.js").EdgeField} EdgeField
 */

/** @param {number} t @param {number} f1 @param {number} f2 */
const mix = (t, f1, f2) => ((t * f1 + (255 - t) * f2 + 127) / 255) | 0;

/**
 * Two pixels' words mixed channel by channel (t of w1's): the RGB bits, without the alpha
 * (colours travel as 24 bits: see renderer.js blendPixel).
 * @param {number} t  0..255
 * @param {number} w1
 * @param {number} w2
 */
function mixWords(t, w1, w2) {
  return (mix(t, (w1 >>> SR) & 255, (w2 >>> SR) & 255) << SR) | (mix(t, (w1 >>> SG) & 255, (w2 >>> SG) & 255) << SG) | (mix(t, (w1 >>> SB) & 255, (w2 >>> SB) & 255) << SB);
}

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
  const at = edgePixels(field, mode === "contour");
  const src = words(video);
  const dst = words(out);
  // one loop per mode: F(k2) of each edge pixel (the video where k2 is hidden)
  if (mode === "contour") {
    for (let j = 0; j < at.length; j++) {
      const i = at[j];
      dst[i] = mixWords(line[i], dst[i], src[i]) | OPAQUE;
    }
  } else if (mode === "blend") {
    const terms = blendTerms(lut, opacity);
    for (let j = 0; j < at.length; j++) {
      const i = at[j];
      const k = k2[i];
      dst[i] = mixWords(t[i], dst[i], lut[k * 4 + 3] ? blendPixel(src[i], terms.of(k)) : src[i]) | OPAQUE;
    }
  } else if (mode === "side-by-side") {
    const solid = classWords(lut);
    for (let j = 0; j < at.length; j++) {
      const i = at[j];
      const o = 2 * i - (i % W) + W; // the right half's pixel in a 2W-wide row
      const k = k2[i];
      dst[o] = mixWords(t[i], dst[o], lut[k * 4 + 3] ? solid[k] : src[i]) | OPAQUE;
    }
  } else {
    const table = blendTable(lut, opacity);
    for (let j = 0; j < at.length; j++) {
      const i = at[j];
      const k = k2[i];
      dst[i] = mixWords(t[i], dst[i], lut[k * 4 + 3] ? filledWord(table, k, src[i]) : src[i]) | OPAQUE;
    }
  }
}

/** @type {WeakMap<Uint8Array, {opacity: number, table: Uint8Array}>} */
const softTables = new WeakMap();

/**
 * The filled mode over a soft mask for every (level, channel, video value): entry
 * `ch * 65536 + v * 256 + c` mixes classes 1 and 0 by v (see composeSoft). Per LUT and
 * opacity, like blendTable: a pixel is then three look-ups.
 * @param {Uint8Array} lut
 * @param {number} a
 */
function softFilledTable(lut, a) {
  const cached = softTables.get(lut);
  if (cached && cached.opacity === a) return cached.table;
  const blend = blendTable(lut, a);
  const table = new Uint8Array(3 * 65536);
  for (let ch = 0; ch < 3; ch++) {
    for (let c = 0; c < 256; c++) {
      const f1 = lut[7] ? blend[768 + ch * 256 + c] : c;
      const f0 = lut[3] ? blend[ch * 256 + c] : c;
      for (let v = 0, o = ch * 65536 + c; v < 256; v++, o += 256) table[o] = mix(v, f1, f0);
    }
  }
  softTables.set(lut, { opacity: a, table });
  return table;
}

/**
 * A soft mask's composite of a class mode (not contour: its lines need the field) in one
 * pass: the same bytes as compose(mode, video, field.k1) and mixEdges for the soft mask's
 * edge field.
 * @param {string} mode  "filled", "blend" or "side-by-side"
 * @param {Uint8ClampedArray | Uint8Array} video  RGBA, W x H
 * @param {Uint8Array} level  the person's bilinear level at W x H (edges.js heatLevel)
 * @param {number} W
 * @param {number} H
 * @param {Uint8Array} lut
 * @param {number} opacity  0..1
 * @param {Uint8ClampedArray} [out]  reused when it has the right size
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
export function composeSoft(mode, video, level, W, H, lut, opacity, out) {
  const a = Math.min(1, Math.max(0, Number(opacity) || 0));
  const side = mode === "side-by-side";
  const outW = side ? 2 * W : W;
  const dstBytes = outBuffer(outW * H * 4, out);
  const src = words(video);
  const dst = words(dstBytes);
  const n = W * H;
  if (mode === "blend") {
    const terms = blendTerms(lut, a);
    const [t0, t1] = [lut[3] ? terms.of(0) : null, lut[7] ? terms.of(1) : null];
    for (let i = 0; i < n; i++) {
      const px = src[i];
      const v = level[i];
      const f1 = v === 0 ? 0 : t1 ? blendPixel(px, t1) : px;
      const f0 = v === 255 ? 0 : t0 ? blendPixel(px, t0) : px;
      dst[i] = (v === 255 ? f1 : v === 0 ? f0 : mixWords(v, f1, f0)) | OPAQUE;
    }
  } else if (side) {
    // the right half: the two classes' colours mixed by v (the video where one is hidden)
    const solid = classWords(lut);
    const both = lut[3] && lut[7] ? Int32Array.from({ length: 256 }, (_, v) => mixWords(v, solid[1], solid[0])) : null;
    for (let y = 0, i = 0; y < H; y++) {
      for (let x = 0, o = 2 * y * W; x < W; x++, i++, o++) {
        const px = src[i];
        const v = level[i];
        dst[o] = px | OPAQUE;
        dst[o + W] = (both ? both[v] : mixWords(v, lut[7] ? solid[1] : px, lut[3] ? solid[0] : px)) | OPAQUE;
      }
    }
  } else {
    const table = softFilledTable(lut, a);
    for (let i = 0; i < n; i++) {
      const px = src[i];
      const v = level[i] << 8;
      dst[i] = (table[v + ((px >>> SR) & 255)] << SR) | (table[65536 + v + ((px >>> SG) & 255)] << SG) | (table[131072 + v + ((px >>> SB) & 255)] << SB) | OPAQUE;
    }
  }
  return { data: dstBytes, width: outW, height: H };
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
