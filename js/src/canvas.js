// Draws frames with their masks onto the view's canvas: the pure compositing of renderer.js
// for the class modes and the confidence view, the canvas effects of backdrop.js for blur and
// replace, and the mirror transform for all of them.

import { EffectsPainter, drawSource } from "./backdrop.js";
import { BACKGROUND_MODES, composeConfidence, mirrorPlane } from "./effects.js";
import { boundaryMap, upsampleNearest } from "./mask-geometry.js";
import { compose } from "./renderer.js";
import { fitLongSide, sizedCanvas } from "./util.js";

/**
 * @typedef {import("./renderer.js").Mask} Mask
 * @typedef {import("./renderer.js").VizMode} VizMode
 * @typedef {{mode: VizMode, opacity: number, lut: Uint8Array, mirror?: boolean,
 *   alpha?: Mask | null, confidence?: Mask | null,
 *   background?: import("./backdrop.js").Background}} DrawSettings
 */

/**
 * Draws frames with masks onto a canvas using the pure functions above. Holds the work
 * canvas and caches the upsampled mask and its boundary map between frames.
 */
export class CanvasRenderer {
  /**
   * @param {HTMLCanvasElement} canvas  the visible canvas
   * @param {{maxSide?: number}} [options]  cap on the rendering resolution
   */
  constructor(canvas, { maxSide = 1280 } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.maxSide = maxSide;
    /** @type {HTMLCanvasElement | OffscreenCanvas | null} */
    this.work = null;
    /** @type {any} */
    this.workCtx = null;
    /** @type {{mask: Mask | null, W: number, H: number, up: Uint8Array | null, boundary: Uint8Array | null}} */
    this.cache = { mask: null, W: 0, H: 0, up: null, boundary: null };
    /** @type {ImageData | null} */
    this.image = null;
    /** @type {EffectsPainter | null} */
    this.effects = null;
  }

  /**
   * @param {number} W
   * @param {number} H
   */
  _workContext(W, H) {
    this.work = sizedCanvas(this.work, W, H);
    if (!this.workCtx) this.workCtx = this.work.getContext("2d", { willReadFrequently: true });
    return this.workCtx;
  }

  /**
   * @param {number} w
   * @param {number} h
   */
  _resize(w, h) {
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
  }

  /**
   * Draw one frame.
   * @param {CanvasImageSource} source  video element or ImageBitmap
   * @param {number} srcW  its intrinsic width
   * @param {number} srcH
   * @param {Mask | null} rawMask  newest mask, or null to draw the plain frame
   * @param {DrawSettings} settings  alpha: the smoothed person alpha (blur, replace);
   *   confidence: the raw one (confidence view); both at model resolution
   */
  draw(source, srcW, srcH, rawMask, settings) {
    const { width: W, height: H } = fitLongSide(srcW, srcH, this.maxSide);
    const mode = settings.mode;
    const mirror = !!settings.mirror;
    if (!rawMask) {
      this._resize(mode === "side-by-side" ? 2 * W : W, H);
      drawSource(this.ctx, source, W, H, mirror);
      if (mode === "side-by-side") this.ctx.clearRect(W, 0, W, H);
      return;
    }
    if (BACKGROUND_MODES.includes(mode) && settings.alpha) {
      this._resize(W, H);
      if (!this.effects) this.effects = new EffectsPainter();
      const alpha = mirrorPlane(settings.alpha, mirror);
      this.effects.paint(this.ctx, source, W, H, alpha, /** @type {any} */ (mode), settings.background || { color: "", bitmap: null }, mirror);
      return;
    }
    const mask = mirrorPlane(mode === "confidence" && settings.confidence ? settings.confidence : rawMask, mirror);
    const wctx = this._workContext(W, H);
    drawSource(wctx, source, W, H, mirror);
    const video = wctx.getImageData(0, 0, W, H).data;
    const c = this.cache;
    if (c.mask !== mask || c.W !== W || c.H !== H) {
      c.mask = mask;
      c.W = W;
      c.H = H;
      c.up = upsampleNearest(mask.data, mask.width, mask.height, W, H);
      c.boundary = null;
    }
    if (mode === "contour" && !c.boundary) c.boundary = boundaryMap(/** @type {Uint8Array} */ (c.up), W, H);
    const outW = mode === "side-by-side" ? 2 * W : W;
    if (!this.image || this.image.width !== outW || this.image.height !== H) this.image = new ImageData(outW, H);
    const up = /** @type {Uint8Array} */ (c.up);
    if (mode === "confidence") {
      composeConfidence(video, up, W, H, settings.opacity, this.image.data);
    } else {
      compose(mode, video, up, W, H, settings.lut, settings.opacity, { out: this.image.data, boundary: c.boundary || undefined });
    }
    this._resize(outW, H);
    this.ctx.putImageData(this.image, 0, 0);
  }

  /** Blank the canvas (camera stopped). */
  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
