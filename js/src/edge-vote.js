// The bilinear one-hot vote of a class mask on the display grid (edges.js's class half):
// integer bilinear taps with weights in 1/256, each class's one-hot plane summed over 3x3 at
// mask resolution (border replicated), so a display pixel's weights come from the 4x4 block
// of its footprint. Pixels whose block holds one class take two writes, two classes take
// the bit pattern of the second one through precomputed column sums, only three or more
// sum the block. segwidget/edges.py gives the same bytes.

/**
 * @typedef {import("./edges.js").Plane} Plane
 * @typedef {import("./edges.js").EdgeField} EdgeField
 */

export const Q = 256;
const TOTAL = 3 * Q * (3 * Q);

/**
 * Display px per unit of vote margin (the weights' units: 1/TOTAL of a pixel's footprint) for
 * a w x h mask shown at W x H; the WebGL field pass (webgl-field.js) uses the same.
 * @param {number} w
 * @param {number} h
 * @param {number} W
 * @param {number} H
 */
export function voteScale(w, h, W, H) {
  return (1.5 * ((W / w + H / h) / 2)) / TOTAL;
}

/**
 * Bilinear taps of `dst` outputs over `src` inputs: i0, i1 and i1's weight f in 1/256.
 * @param {number} src
 * @param {number} dst
 */
export function bilinearTaps(src, dst) {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const f = new Int32Array(dst);
  for (let i = 0; i < dst; i++) {
    const num = (2 * i + 1) * src - dst;
    let a = Math.floor(num / (2 * dst));
    let w = Math.floor(((num - a * 2 * dst) * Q + dst) / (2 * dst));
    if (w === Q) [a, w] = [a + 1, 0];
    if (a < 0) [a, w] = [0, 0];
    if (a >= src - 1) [a, w] = [src - 1, 0];
    i0[i] = a;
    i1[i] = Math.min(a + 1, src - 1);
    f[i] = w;
  }
  return { i0, i1, f };
}

/**
 * Per mask pixel (y, x), the classes of the 4x4 block of its bilinear footprint (rows y-1 to
 * y+2, columns x-1 to x+2, clamped): `a` the lower class (or -1 for three or more classes),
 * `b` the other one (-1 when the block is all `a`), `bits` where `b` is (bit 4r + c).
 * @param {Plane} mask
 */
function blocks(mask) {
  const { data, width: w, height: h } = mask;
  const n = w * h;
  const a = new Int16Array(n);
  const b = new Int16Array(n);
  const bits = new Uint16Array(n);
  const cols = new Int32Array(4);
  const cl = (/** @type {number} */ v, /** @type {number} */ m) => (v < 0 ? 0 : v >= m ? m - 1 : v);
  // rowSame: the class when columns x-1 .. x+2 (clamped) of row y are all one class, else -1
  const rowSame = new Int16Array(n);
  for (let y = 0; y < h; y++) {
    const r = y * w;
    for (let x = 0; x < w; x++) {
      const k = data[r + (x > 0 ? x - 1 : 0)];
      const same = data[r + x] === k && data[r + (x + 1 < w ? x + 1 : w - 1)] === k && data[r + (x + 2 < w ? x + 2 : w - 1)] === k;
      rowSame[r + x] = same ? k : -1;
    }
  }
  for (let y = 0; y < h; y++) {
    const r0 = (y > 0 ? y - 1 : 0) * w;
    const r1 = y * w;
    const r2 = (y + 1 < h ? y + 1 : h - 1) * w;
    const r3 = (y + 2 < h ? y + 2 : h - 1) * w;
    for (let x = 0; x < w; x++) {
      const k = rowSame[r0 + x];
      if (k >= 0 && rowSame[r1 + x] === k && rowSame[r2 + x] === k && rowSame[r3 + x] === k) {
        a[r1 + x] = k; // the common case: one class (b = -1)
        b[r1 + x] = -1;
        continue;
      }
      for (let c = 0; c < 4; c++) cols[c] = cl(x - 1 + c, w);
      let ka = -1;
      let kb = -1;
      let many = false;
      for (let r = 0; r < 4 && !many; r++) {
        const row = cl(y - 1 + r, h) * w;
        for (let c = 0; c < 4; c++) {
          const k = data[row + cols[c]];
          if (ka < 0 || k === ka) ka = k;
          else if (kb < 0 || k === kb) kb = k;
          else many = true;
        }
      }
      const i = y * w + x;
      if (many) {
        a[i] = -1;
        continue;
      }
      if (kb >= 0 && kb < ka) {
        const k = ka;
        ka = kb;
        kb = k;
      }
      a[i] = ka;
      b[i] = kb;
      let m = 0;
      if (kb >= 0) {
        for (let r = 0; r < 4; r++) {
          const row = cl(y - 1 + r, h) * w;
          for (let c = 0; c < 4; c++) if (data[row + cols[c]] === kb) m |= 1 << (4 * r + c);
        }
      }
      bits[i] = m;
    }
  }
  return { a, b, bits };
}

/**
 * Fill `f` (W x H) with the bilinear one-hot vote of `mask`.
 * @param {Plane} mask
 * @param {EdgeField} f
 * @param {number} W
 * @param {number} H
 */
export function voteField(mask, f, W, H) {
  const { data, width: mw, height: mh } = mask;
  if (W === mw && H === mh) return voteSameSize(mask, f);
  const tx = bilinearTaps(mw, W);
  const ty = bilinearTaps(mh, H);
  const blk = blocks(mask);
  const K = voteScale(mw, mh, W, H);
  const { k1, k2 } = f;
  const [ba, bb] = [blk.a, blk.b];
  // colSum[x * 16 + nibble]: a footprint row's weight on the columns a 4-bit nibble marks
  const colSum = new Int32Array(W * 16);
  for (let x = 0; x < W; x++) {
    const fx = tx.f[x];
    for (let nib = 0; nib < 16; nib++) colSum[x * 16 + nib] = (nib & 1) * (Q - fx) + ((nib >> 1) & 1) * Q + ((nib >> 2) & 1) * Q + ((nib >> 3) & 1) * fx;
  }
  const acc = new Int32Array(256);
  const touched = new Uint8Array(16);
  const rows = new Int32Array(4);
  const rw = new Int32Array(4);
  f.t.fill(255);
  for (let y = 0, i = 0; y < H; y++) {
    const y0 = ty.i0[y];
    const fy = ty.f[y];
    for (let j = 0; j < 4; j++) rows[j] = Math.min(mh - 1, Math.max(0, y0 - 1 + j)) * mw;
    rw[0] = Q - fy;
    rw[1] = Q;
    rw[2] = Q;
    rw[3] = fy;
    const a0 = y0 * mw;
    for (let x = 0; x < W; x++, i++) {
      const x0 = tx.i0[x];
      const ka = ba[a0 + x0];
      const kb = bb[a0 + x0];
      if (kb < 0 && ka >= 0) {
        // one class under the whole footprint
        k1[i] = ka;
        k2[i] = ka;
        continue;
      }
      let bw;
      let bk;
      let sw;
      let sk;
      if (ka >= 0) {
        // two classes: b's weight from its bit pattern, a's is the rest
        const m = blk.bits[a0 + x0];
        const c = x * 16;
        const wb = rw[0] * colSum[c + (m & 15)] + Q * (colSum[c + ((m >> 4) & 15)] + colSum[c + ((m >> 8) & 15)]) + fy * colSum[c + (m >> 12)];
        const wa = TOTAL - wb;
        const aWins = wa >= wb; // a tie keeps the lower class, a
        bw = aWins ? wa : wb;
        bk = aWins ? ka : kb;
        sw = aWins ? wb : wa;
        sk = aWins ? kb : ka;
      } else {
        const fx = tx.f[x];
        let m = 0;
        for (let r = 0; r < 4; r++) {
          if (!rw[r]) continue;
          for (let c = 0; c < 4; c++) {
            const cw = c === 0 ? Q - fx : c === 3 ? fx : Q;
            if (!cw) continue;
            const cls = data[rows[r] + Math.min(mw - 1, Math.max(0, x0 - 1 + c))];
            if (acc[cls] === 0) touched[m++] = cls;
            acc[cls] += rw[r] * cw;
          }
        }
        bw = -1;
        bk = 256;
        sw = -1;
        sk = 256;
        for (let j = 0; j < m; j++) {
          const c = touched[j];
          const w = acc[c];
          acc[c] = 0;
          if (w > bw || (w === bw && c < bk)) {
            sw = bw;
            sk = bk;
            bw = w;
            bk = c;
          } else if (w > sw || (w === sw && c < sk)) {
            sw = w;
            sk = c;
          }
        }
      }
      f.k1[i] = bk;
      if (sw <= 0) {
        // no other class in reach: no edge (also when scaling down)
        f.k2[i] = bk;
        continue;
      }
      const d = (bw - sw) * K;
      f.k2[i] = sk;
      f.t[i] = Math.floor(255 * Math.min(1, 0.5 + d) + 0.5);
      f.line[i] = Math.floor(255 * Math.min(1, Math.max(0, 1.5 - d)) + 0.5);
    }
  }
}

/**
 * The vote at the mask's own size (the overlay paths' case): the taps are the pixels
 * themselves, so the weights are the 3x3 neighbourhood's counts (x 65536); the same bytes as
 * the general path, without the 4x4 blocks.
 * @param {Plane} mask
 * @param {EdgeField} f
 */
function voteSameSize(mask, f) {
  const { k1, k2, t, line } = f;
  k1.set(mask.data);
  k2.set(mask.data);
  t.fill(255);
  sameSizeEdges(mask, (i, bk, sk, ti, li) => {
    k1[i] = bk;
    k2[i] = sk;
    t[i] = ti;
    line[i] = li;
  });
}

/**
 * The vote at the mask's own size where it is not trivial: `edge(i, k1, k2, t, line)` for
 * each pixel whose 3x3 neighbourhood (border replicated) holds more than one class, with the
 * edge field's values there (see edges.js). Every other pixel keeps its own class: k1 = k2 =
 * mask.data[i], t = 255, line = 0.
 * @param {Plane} mask
 * @param {(i: number, k1: number, k2: number, t: number, line: number) => void} edge
 */
export function sameSizeEdges(mask, edge) {
  const { data, width: w, height: h } = mask;
  const K = (1.5 * Q * Q) / TOTAL; // the display's scale is 1
  // four pixels at a time where rows of whole words allow: inside a region, a word of one
  // class with the same word above and below and that class on both sides has no edge
  const words = w % 4 === 0 && data.byteOffset % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, (w * h) >> 2) : null;
  const acc = new Int32Array(256);
  const touched = new Uint8Array(9);
  const rows = new Int32Array(3);
  const cols = new Int32Array(3);
  for (let y = 0; y < h; y++) {
    const r0 = (y > 0 ? y - 1 : 0) * w;
    const r1 = y * w;
    const r2 = (y + 1 < h ? y + 1 : h - 1) * w;
    rows[0] = r0;
    rows[1] = r1;
    rows[2] = r2;
    for (let x = 0; x < w; x++) {
      if (words && (x & 3) === 0) {
        const a = words[(r1 + x) >> 2];
        const k = a & 255;
        const xl = x > 0 ? x - 1 : 0;
        const xr = x + 4 < w ? x + 4 : w - 1;
        if (
          a === k * 0x01010101 &&
          words[(r0 + x) >> 2] === a &&
          words[(r2 + x) >> 2] === a &&
          data[r0 + xl] === k &&
          data[r1 + xl] === k &&
          data[r2 + xl] === k &&
          data[r0 + xr] === k &&
          data[r1 + xr] === k &&
          data[r2 + xr] === k
        ) {
          x += 3;
          continue;
        }
      }
      const i = r1 + x;
      const k = data[i];
      const c0 = x > 0 ? x - 1 : 0;
      const c2 = x + 1 < w ? x + 1 : w - 1;
      if (data[r0 + c0] === k && data[r0 + x] === k && data[r0 + c2] === k && data[r1 + c0] === k && data[r1 + c2] === k && data[r2 + c0] === k && data[r2 + x] === k && data[r2 + c2] === k) continue;
      cols[0] = c0;
      cols[1] = x;
      cols[2] = c2;
      let m = 0;
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) {
          const cls = data[rows[a] + cols[b]];
          if (acc[cls] === 0) touched[m++] = cls;
          acc[cls]++;
        }
      }
      let bw = -1;
      let bk = 256;
      let sw = -1;
      let sk = 256;
      for (let j = 0; j < m; j++) {
        const c = touched[j];
        const n = acc[c];
        acc[c] = 0;
        if (n > bw || (n === bw && c < bk)) {
          sw = bw;
          sk = bk;
          bw = n;
          bk = c;
        } else if (n > sw || (n === sw && c < sk)) {
          sw = n;
          sk = c;
        }
      }
      const d = (bw - sw) * K;
      edge(i, bk, sk, Math.floor(255 * Math.min(1, 0.5 + d) + 0.5), Math.floor(255 * Math.min(1, Math.max(0, 1.5 - d)) + 0.5));
    }
  }
}
