// Draws frames with their masks onto the view's canvas: the pure compositing of renderer.js
// for the class modes and the confidence view over the smooth edges of edges.js (the field
// computed once per result and display size, edge-mix.js for the anti-aliased pixels), the
// canvas effects of backdrop.js for blur and replace, and the mirror transform for all.

import { EffectsPainter, drawSource } from "./backdrop.js";
import { BACKGROUND_MODES, composeConfidence, mirrorPlane } from "./effects.js";
import { composeSoft, mixEdges } from "./edge-mix.js";
import { edgeField, heatLevel } from "./edges.js";
import { compose } from "./renderer.js";
import { fitLongSide, sizedCanvas, sizedImage } from "./util.js";

/**
 * @typedef {import("./renderer.js").Mask} Mask
 * @typedef {import("./renderer.js").VizMode} VizMode
 * @typedef {{mode: VizMode, opacity: number, lut: Uint8Array, mirror?: boolean,
 *   alpha?: Mask | null, confidence?: Mask | null, soft?: Mask | null, classes?: Mask | null,
 *   background?: import("./backdrop.js").Background}} DrawSettings
 *   soft: the (smoothed) person probability of a result that has one: the class modes draw
 *   its two classes from it; classes: the class mask steadied over results (view-effects.js),
 *   drawn instead of the raw mask. Both optional.
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
    /** @type {{key: any[], value: any}} the edge field (or heat levels) of the last draw */
    this.cache = { key: [], value: null };
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
    const wctx = this._workContext(W, H);
    drawSource(wctx, source, W, H, mirror);
    const video = wctx.getImageData(0, 0, W, H).data;
    const outW = mode === "side-by-side" ? 2 * W : W;
    this.image = sizedImage(this.image, outW, H);
    if (mode === "confidence") {
      const plane = mirrorPlane(settings.confidence || rawMask, mirror);
      const level = this._cached([plane, W, H], () => heatLevel(plane, W, H));
      composeConfidence(video, level, W, H, settings.opacity, this.image.data);
    } else {
      const classes = mirrorPlane(settings.classes || rawMask, mirror);
      const soft = settings.soft ? mirrorPlane(settings.soft, mirror) : null;
      const lines = mode === "contour";
      const { lut, opacity } = settings;
      if (soft && !lines) {
        // a soft mask's two classes and their mix come from its level alone: one pass
        const level = this._cached([soft, W, H, "level"], () => heatLevel(soft, W, H));
        composeSoft(mode, video, level, W, H, lut, opacity, this.image.data);
      } else {
        const field = this._cached([classes, soft, W, H, lines], () => edgeField(classes, soft, W, H, { lines }));
        compose(mode, video, field.k1, W, H, lut, opacity, { out: this.image.data, boundary: field.line });
        mixEdges(mode, this.image.data, video, field, W, H, lut, Math.min(1, Math.max(0, Number(opacity) || 0)));
      }
    }
    this._resize(outW, H);
    this.ctx.putImageData(this.image, 0, 0);
  }

  /**
   * `make()`'s value, kept while `key` (compared by identity) stays the same.
   * @param {any[]} key
   * @param {() => any} make
   */
  _cached(key, make) {
    const c = this.cache;
    if (c.key.length !== key.length || key.some((v, i) => v !== c.key[i])) {
      c.key = key;
      c.value = make();
    }
    return c.value;
  }

  /** Blank the canvas (camera stopped). */
  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
