// Mask geometry: nearest-neighbour scaling with pixel centres aligned (segwidget/postprocess.py
// upsample_mask's twin; the views draw smooth edges instead, edges.js), and the class-boundary
// map renderer.js's contour falls back to when no edge field's line is given.

/**
 * Source index of each of `dst` output positions for nearest-neighbour scaling of `src`.
 * @param {number} src
 * @param {number} dst
 * @returns {Uint32Array}
 */
export function nearestIndex(src, dst) {
  const idx = new Uint32Array(dst);
  for (let i = 0; i < dst; i++) idx[i] = Math.floor(((2 * i + 1) * src) / (2 * dst));
  return idx;
}

/**
 * Nearest-neighbour upsampling (or downsampling) of a mask to W x H.
 * @param {Uint8Array} mask  mh x mw, row-major
 * @param {number} mw
 * @param {number} mh
 * @param {number} W
 * @param {number} H
 * @returns {Uint8Array}  H x W
 */
export function upsampleNearest(mask, mw, mh, W, H) {
  if (mw === W && mh === H) return mask;
  const xs = nearestIndex(mw, W);
  const ys = nearestIndex(mh, H);
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    const row = ys[y] * mw;
    const o = y * W;
    for (let x = 0; x < W; x++) out[o + x] = mask[row + xs[x]];
  }
  return out;
}

/**
 * 1 where a pixel has a 4-neighbour (inside the image) of another class, else 0.
 * @param {Uint8Array} mask  H x W
 * @param {number} W
 * @param {number} H
 * @returns {Uint8Array}
 */
export function boundaryMap(mask, W, H) {
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    const o = y * W;
    for (let x = 0; x < W; x++) {
      const i = o + x;
      const k = mask[i];
      if (
        (x > 0 && mask[i - 1] !== k) ||
        (x < W - 1 && mask[i + 1] !== k) ||
        (y > 0 && mask[i - W] !== k) ||
        (y < H - 1 && mask[i + W] !== k)
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

// Pixels are read and written as 32-bit words (one RGBA pixel each); the channel shifts
// follow the platform's byte order.
