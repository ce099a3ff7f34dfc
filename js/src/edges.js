// Smooth mask edges at display resolution (design decision 18): the browser's twin of
// segwidget/edges.py, bit-exact with it (integer bilinear weights in 1/256; the same float64
// operations in the same order). Per display pixel an edge field:
//
//   k1: the class drawn, k2: the class across the nearest edge (k1 away from edges),
//   t: k1's share (0..255) of an anti-aliased mix of the two, line: the contour's coverage.
//   Class masks: the bilinear one-hot vote. Each class's one-hot plane summed over 3x3 at mask
//     resolution (border replicated), scaled up bilinearly (pixel centres aligned); the largest
//     weight wins (ties: the lower class), the runner-up is k2; d = margin * 1.5 * scale is the
//     distance (display px) to the boundary: t = min(1, 0.5 + d), line = clamp(1.5 - d).
//   Soft masks (the person profile's probability p): A = bilinear p; k1 = person (1) where
//     A >= 0.5, else background (0); the person's share is A itself (soft masks keep their
//     ramp, so a mask-size field scaled bilinearly by drawImage draws the same);
//     the contour's line = clamp(1.5 - d), d = |A - 0.5| / |grad A| (display px to the 0.5
//     line; grad by central differences of the bilinear sums, clamped at the border).
// All per-pixel work is at mask resolution or a few integer operations per display pixel:
// pixels whose 4x4 footprint holds one class take two writes, two classes take a bit
// pattern's precomputed column sums, only three or more sum the footprint.

import { Q, bilinearTaps, voteField } from "./edge-vote.js";

export { bilinearTaps };

export const RAMP = 0.15;
const LEVELS = 255 * Q;
const HALF = 255 * Q * Q;

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Plane
 * @typedef {{k1: Uint8Array, k2: Uint8Array, t: Uint8Array, line: Uint8Array, width: number, height: number}} EdgeField
 */

/** @param {number} e0 @param {number} e1 @param {number} x */
function smoothstep(e0, e1, x) {
  const u = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return u * u * (3 - 2 * u);
}

/** The soft ramp's table over the 65281 levels (segwidget/edges.py soft_table). */
export function softTable() {
  const t = new Uint8Array(LEVELS + 1);
  for (let i = 0; i <= LEVELS; i++) t[i] = Math.floor(255 * smoothstep(0.5 - RAMP, 0.5 + RAMP, i / LEVELS) + 0.5);
  return t;
}

/** @type {Uint8Array | null} */
let table = null;
const ramp = () => (table = table || softTable());

/**
 * Each row of `plane` interpolated across to width W (units of 1/256).
 * @param {Plane} plane
 * @param {number} W
 */
function rowSums(plane, W) {
  const { data, width: w, height: h } = plane;
  const rows = new Int32Array(h * W);
  if (W === w) {
    for (let i = 0; i < rows.length; i++) rows[i] = data[i] * Q; // the taps are the pixels
    return rows;
  }
  const { i0, i1, f } = bilinearTaps(w, W);
  for (let y = 0; y < h; y++) {
    const r = y * w;
    const o = y * W;
    for (let x = 0; x < W; x++) rows[o + x] = data[r + i0[x]] * (Q - f[x]) + data[r + i1[x]] * f[x];
  }
  return rows;
}

/**
 * The bilinear sums (units of 1/65536) of `plane` at W x H: each plane row is interpolated
 * across once, then each display pixel mixes two of those rows.
 * @param {Plane} plane
 * @param {number} W
 * @param {number} H
 * @returns {Int32Array}
 */
function sums(plane, W, H) {
  const rows = rowSums(plane, W);
  if (H === plane.height) {
    for (let i = 0; i < rows.length; i++) rows[i] *= Q;
    return rows;
  }
  const ty = bilinearTaps(plane.height, H);
  const out = new Int32Array(W * H);
  for (let y = 0, i = 0; y < H; y++) {
    const a = ty.i0[y] * W;
    const b = ty.i1[y] * W;
    const fy = ty.f[y];
    const gy = Q - fy;
    for (let x = 0; x < W; x++, i++) out[i] = rows[a + x] * gy + rows[b + x] * fy;
  }
  return out;
}

/**
 * The size the overlay paths compute a field at for a W x H display: the mask's own (no
 * larger than the display's); drawImage scales it up bilinearly, so class edges are
 * anti-aliased over about a mask pixel and soft ones keep their ramp. Contour lines (a pixel
 * or two wide) and the confidence view's heat colours (not linear in the level) are at the
 * display's size.
 * @param {{width: number, height: number}} mask
 * @param {number} W
 * @param {number} H
 * @param {{mode?: string}} [what]  the mode
 */
export function fieldSize(mask, W, H, { mode = "" } = {}) {
  if (mode === "contour" || mode === "confidence") return { width: W, height: H };
  return { width: Math.min(W, mask.width), height: Math.min(H, mask.height) };
}

/** The effects' person alpha at W x H: `alpha` scaled bilinearly through the smoothstep ramp
 * 0.5 -+ RAMP (a sharp cut-out: no glow, no ghost of the old background). @param {Plane} alpha @param {number} W @param {number} H */
export function alphaAt(alpha, W, H) {
  const t = ramp();
  const s = sums(alpha, W, H);
  const out = new Uint8Array(W * H);
  for (let i = 0; i < out.length; i++) out[i] = t[s[i] >> 8];
  return out;
}

/** The confidence view's level at W x H: `alpha` scaled bilinearly, rounded. @param {Plane} alpha @param {number} W @param {number} H */
export function heatLevel(alpha, W, H) {
  // sums' second pass, rounded as it goes (no W x H plane of sums)
  const rows = rowSums(alpha, W);
  const ty = bilinearTaps(alpha.height, H);
  const out = new Uint8Array(W * H);
  for (let y = 0, i = 0; y < H; y++) {
    const a = ty.i0[y] * W;
    const b = ty.i1[y] * W;
    const fy = ty.f[y];
    const gy = Q - fy;
    for (let x = 0; x < W; x++, i++) out[i] = (rows[a + x] * gy + rows[b + x] * fy + 32768) >>> 16;
  }
  return out;
}

/**
 * Class k's one-hot plane summed over 3x3 (border replicated) as 0..255: round(255 n / 9).
 * @param {Plane} mask
 * @param {number} k
 */
export function classAlpha(mask, k) {
  const { data, width: w, height: h } = mask;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const r = Math.min(h - 1, Math.max(0, y + dy)) * w;
        for (let dx = -1; dx <= 1; dx++) if (data[r + Math.min(w - 1, Math.max(0, x + dx))] === k) n++;
      }
      out[y * w + x] = Math.floor((510 * n + 9) / 18);
    }
  }
  return out;
}

/**
 * The edge field of `mask` at W x H; with `softPlane` (the person probability, the mask's
 * size) the two classes come from it.
 * @param {Plane} mask
 * @param {Plane | null} softPlane
 * @param {number} W
 * @param {number} H
 * @param {{lines?: boolean}} [options]  lines: false leaves a soft mask's contour lines out
 *   (all 0; they cost a square root per pixel, and only the contour mode draws them)
 * @returns {EdgeField}
 */
export function edgeField(mask, softPlane, W, H, { lines = true } = {}) {
  const n = W * H;
  const f = { k1: new Uint8Array(n), k2: new Uint8Array(n), t: new Uint8Array(n), line: new Uint8Array(n), width: W, height: H };
  if (softPlane) {
    const { k1, k2, t, line } = f;
    const s = sums(softPlane, W, H);
    for (let y = 0, i = 0; y < H; y++) {
      const up = y > 0 ? -W : 0;
      const down = y < H - 1 ? W : 0;
      for (let x = 0; x < W; x++, i++) {
        const v = s[i];
        const share = (v + 32768) >>> 16; // round(255 A)
        const person = share >> 7; // share >= 128 exactly where 2 v >= HALF
        k1[i] = person;
        k2[i] = person ^ 1;
        t[i] = person ? share : 255 - share;
        if (!lines) continue;
        // the contour: 1.5 px minus the distance to the 0.5 line (central differences)
        const gx = s[x < W - 1 ? i + 1 : i] - s[x > 0 ? i - 1 : i];
        const gy = s[i + down] - s[i + up];
        const g = Math.sqrt(gx * gx + gy * gy);
        if (g > 0) line[i] = Math.floor(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(2 * v - HALF) / g)) + 0.5);
      }
    }
    return f;
  }
  voteField(mask, f, W, H);
  return f;
}
