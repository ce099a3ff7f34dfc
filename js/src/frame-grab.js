// Raw frames without a canvas: the camera's own YUV planes (WebCodecs `VideoFrame.copyTo`),
// scaled in JS straight to the I420 the kernel reads. The canvas path draws the video into a
// canvas (YUV -> RGB), reads the RGBA back (a fresh ImageData per frame) and converts it
// back to YUV (pixels.js); this one skips both conversions and reuses its copy buffer.
// Used only where the frame is I420 or NV12 in BT.601 limited range (what the kernel
// decodes), else the canvas path runs.

/** Colour matrices whose limited-range YUV the kernel's BT.601 decode reads as sent. */
const BT601 = new Set(["smpte170m", "bt470bg"]);

/**
 * Bilinear scaling of one 8-bit plane (pixel centres aligned; exact 2x2 means at 2x).
 * @param {Uint8Array} src
 * @param {number} off  offset of the plane's first sample
 * @param {number} stride  bytes per source row
 * @param {number} step  bytes between samples of a row (2: NV12's interleaved chroma)
 * @param {number} sw  source size
 * @param {number} sh
 * @param {Uint8Array} dst
 * @param {number} doff
 * @param {number} dw  destination size (rows are dw bytes)
 * @param {number} dh
 */
export function scalePlane(src, off, stride, step, sw, sh, dst, doff, dw, dh) {
  const x0 = new Int32Array(dw);
  const x1 = new Int32Array(dw);
  const fx = new Float32Array(dw);
  for (let x = 0; x < dw; x++) {
    const s = Math.min(sw - 1, Math.max(0, ((x + 0.5) * sw) / dw - 0.5));
    const i = Math.floor(s);
    x0[x] = i * step;
    x1[x] = Math.min(sw - 1, i + 1) * step;
    fx[x] = s - i;
  }
  for (let y = 0; y < dh; y++) {
    const s = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / dh - 0.5));
    const j = Math.floor(s);
    const fy = s - j;
    const r0 = off + j * stride;
    const r1 = off + Math.min(sh - 1, j + 1) * stride;
    const o = doff + y * dw;
    for (let x = 0; x < dw; x++) {
      const a = src[r0 + x0[x]] + (src[r0 + x1[x]] - src[r0 + x0[x]]) * fx[x];
      const b = src[r1 + x0[x]] + (src[r1 + x1[x]] - src[r1 + x0[x]]) * fx[x];
      dst[o + x] = (a + (b - a) * fy + 0.5) | 0;
    }
  }
}

/**
 * The copied planes of a frame as I420 at dw x dh (both even).
 * @param {Uint8Array} buf  VideoFrame.copyTo's destination
 * @param {{offset: number, stride: number}[]} layout  its planes
 * @param {"I420" | "NV12"} format
 * @param {number} sw  the frame's (visible) size
 * @param {number} sh
 * @param {number} dw
 * @param {number} dh
 * @returns {Uint8Array}
 */
export function planesToI420(buf, layout, format, sw, sh, dw, dh) {
  const out = new Uint8Array((dw * dh * 3) / 2);
  scalePlane(buf, layout[0].offset, layout[0].stride, 1, sw, sh, out, 0, dw, dh);
  const [cw, ch, dcw, dch] = [Math.ceil(sw / 2), Math.ceil(sh / 2), dw / 2, dh / 2];
  const u = dw * dh;
  const v = u + dcw * dch;
  if (format === "NV12") {
    const { offset, stride } = layout[1];
    scalePlane(buf, offset, stride, 2, cw, ch, out, u, dcw, dch);
    scalePlane(buf, offset + 1, stride, 2, cw, ch, out, v, dcw, dch);
  } else {
    scalePlane(buf, layout[1].offset, layout[1].stride, 1, cw, ch, out, u, dcw, dch);
    scalePlane(buf, layout[2].offset, layout[2].stride, 1, cw, ch, out, v, dcw, dch);
  }
  return out;
}

/** Grabs I420 frames from a <video> through VideoFrame, holding the copy buffer. */
export class FrameGrabber {
  constructor() {
    /** @type {Uint8Array | null} */
    this.buf = null;
    /** Why the last grab fell back to the canvas (format, colour space), or "". */
    this.fallback = "";
  }

  /**
   * @param {HTMLVideoElement} video
   * @param {number} dw  even
   * @param {number} dh  even
   * @returns {Promise<{bytes: Uint8Array, copy_ms: number} | null>}  null: use the canvas
   */
  async grab(video, dw, dh) {
    const VF = /** @type {any} */ (globalThis).VideoFrame;
    if (typeof VF !== "function") return this._no("no VideoFrame");
    let frame;
    try {
      frame = new VF(video);
    } catch {
      return this._no("no frame");
    }
    try {
      const cs = frame.colorSpace || {};
      if (frame.format !== "I420" && frame.format !== "NV12") return this._no(`format ${frame.format}`);
      if ((cs.matrix && !BT601.has(cs.matrix)) || cs.fullRange) return this._no(`colour ${cs.matrix} ${cs.fullRange ? "full" : "limited"}`);
      const t0 = performance.now();
      const size = frame.allocationSize();
      if (!this.buf || this.buf.length < size) this.buf = new Uint8Array(size);
      const layout = await frame.copyTo(this.buf);
      const copy_ms = performance.now() - t0;
      const { width, height } = frame.visibleRect;
      this.fallback = "";
      return { bytes: planesToI420(this.buf, layout, frame.format, width, height, dw, dh), copy_ms };
    } catch (err) {
      return this._no(`copy failed: ${err}`);
    } finally {
      frame.close();
    }
  }

  /** @param {string} why */
  _no(why) {
    this.fallback = why;
    return null;
  }
}
