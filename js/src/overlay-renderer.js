// The compositor's path for the modes that are plain alpha blends ("filled", "side-by-side"):
// the mask is coloured once per result at its own resolution (76 800 pixels at 320x240), and
// each video frame is then two drawImage calls (the video, the coloured mask scaled by nearest
// neighbour with globalAlpha = opacity) that the browser's compositor does, on the GPU where
// there is one. The per-pixel path (renderer.js) reads the video back and loops over every
// display pixel on every video frame; it stays for the other modes and wherever this one is
// unavailable.
//
// Same rules as renderer.js (nearest neighbour with pixel centres aligned is what drawImage
// does with smoothing off); the browser's blend rounds on its own, so a channel may differ by
// one or two levels from the exact composite. `mirror` flips the video and the mask together
// with one canvas transform.

import { CanvasRenderer } from "./canvas.js";
import { fitLongSide, sizedCanvas } from "./util.js";

/** Source offset (px) that breaks exact ties of nearest sampling (a display pixel centre
 * on a mask pixel edge, as at 2.5x) the way renderer.js's integer formula does: upwards. */
export const TIE = 1 / 1024;

/** Modes this path draws; the others go to the per-pixel renderer. */
export const OVERLAY_MODES = new Set(["filled", "side-by-side"]);

/**
 * The mask coloured by the LUT: RGBA at mask resolution, alpha 0 where the class is hidden.
 * @param {Uint8Array} mask  class indices
 * @param {Uint8Array} lut  256 x RGBA (buildLut)
 * @param {Uint8ClampedArray} [out]  reused when it has the right size
 * @returns {Uint8ClampedArray}
 */
export function colourMask(mask, lut, out) {
  const rgba = out && out.length === mask.length * 4 ? out : new Uint8ClampedArray(mask.length * 4);
  for (let i = 0, o = 0; i < mask.length; i++, o += 4) {
    const k = mask[i] * 4;
    rgba[o] = lut[k];
    rgba[o + 1] = lut[k + 1];
    rgba[o + 2] = lut[k + 2];
    rgba[o + 3] = lut[k + 3];
  }
  return rgba;
}

export class OverlayRenderer {
  /**
   * @param {HTMLCanvasElement} canvas  the visible canvas
   * @param {{maxSide?: number, fallback?: {draw: Function, clear: Function}}} [options]
   */
  constructor(canvas, { maxSide = 1280, fallback } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.maxSide = maxSide;
    this.fallback = fallback || new CanvasRenderer(canvas, { maxSide });
    /** @type {HTMLCanvasElement | OffscreenCanvas | null} */
    this.colour = null;
    /** @type {any} */
    this.colourCtx = null;
    /** @type {{mask: any, lut: Uint8Array | null}} */
    this.cached = { mask: null, lut: null };
    /** @type {ImageData | null} */
    this.image = null;
  }

  /**
   * Draw one frame (the same contract as CanvasRenderer.draw).
   * @param {CanvasImageSource} source  video element or ImageBitmap
   * @param {number} srcW
   * @param {number} srcH
   * @param {{data: Uint8Array, width: number, height: number} | null} mask
   * @param {{mode: string, opacity: number, lut: Uint8Array, mirror?: boolean}} settings
   */
  draw(source, srcW, srcH, mask, settings) {
    if (!mask || !OVERLAY_MODES.has(settings.mode)) {
      this.cached.mask = null; // the fallback may have drawn: recolour when we are back
      return this.fallback.draw(source, srcW, srcH, mask, /** @type {any} */ (settings));
    }
    const { width: W, height: H } = fitLongSide(srcW, srcH, this.maxSide);
    const colour = this._colour(mask, settings.lut);
    const side = settings.mode === "side-by-side";
    const outW = side ? 2 * W : W;
    if (this.canvas.width !== outW) this.canvas.width = outW;
    if (this.canvas.height !== H) this.canvas.height = H;
    const ctx = this.ctx;
    ctx.imageSmoothingEnabled = false; // resizing a canvas resets its state
    ctx.globalAlpha = 1;
    // mirrored: x -> 2 * (left edge) + W - x within each W-wide half
    const flip = (/** @type {number} */ x0) => settings.mirror && ctx.setTransform(-1, 0, 0, 1, 2 * x0 + W, 0);
    flip(0);
    ctx.drawImage(source, 0, 0, W, H);
    const [mw, mh] = [mask.width, mask.height];
    if (side) {
      flip(W);
      ctx.drawImage(source, W, 0, W, H); // hidden classes show the frame on the right too
      ctx.drawImage(colour, TIE, TIE, mw, mh, W, 0, W, H);
    } else {
      ctx.globalAlpha = Math.min(1, Math.max(0, Number(settings.opacity) || 0));
      ctx.drawImage(colour, TIE, TIE, mw, mh, 0, 0, W, H);
      ctx.globalAlpha = 1;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  /**
   * The coloured mask as a canvas, recoloured only when the mask or the LUT changed.
   * @param {{data: Uint8Array, width: number, height: number}} mask
   * @param {Uint8Array} lut
   */
  _colour(mask, lut) {
    const c = this.cached;
    if (this.colour && c.mask === mask && c.lut === lut) return this.colour;
    const { width, height } = mask;
    this.colour = sizedCanvas(this.colour, width, height);
    if (!this.colourCtx) this.colourCtx = this.colour.getContext("2d");
    if (!this.image || this.image.width !== width || this.image.height !== height) this.image = new ImageData(width, height);
    colourMask(mask.data, lut, this.image.data);
    this.colourCtx.putImageData(this.image, 0, 0);
    c.mask = mask;
    c.lut = lut;
    return this.colour;
  }

  /** Blank the canvas (camera stopped). */
  clear() {
    this.fallback.clear();
  }
}
