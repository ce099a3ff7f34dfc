// The compositor's path for the modes that are plain alpha blends ("filled", "side-by-side"):
// the overlay (the class colours with their alpha, anti-aliased along the smooth edges of
// edges.js) is built once per result (edge-overlay.js overlayAt) at edges.js fieldSize (the
// mask's size), and each video frame is then two drawImage
// calls (the video, the overlay scaled bilinearly) that the
// browser's compositor does, on the GPU where there is one. The per-pixel path (canvas.js)
// reads the video back and loops over every display pixel on every video frame; it stays for
// the other modes and wherever this one is unavailable.
//
// Same rules as renderer.js and edge-mix.js; the browser's blend rounds on its own, so a
// channel may differ by one or two levels from the exact composite. `mirror` flips the video
// and the overlay together with one canvas transform.

import { CanvasRenderer } from "./canvas.js";
import { overlayAt } from "./edge-overlay.js";
import { fieldSize } from "./edges.js";
import { fitLongSide, sizedCanvas, sizedImage } from "./util.js";

/** Modes this path draws; the others go to the per-pixel renderer. */
export const OVERLAY_MODES = new Set(["filled", "side-by-side"]);

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
    /** @type {{key: any[] | null}} what the overlay canvas holds */
    this.cached = { key: null };
    /** @type {ImageData | null} */
    this.image = null;
  }

  /**
   * Draw one frame (the same contract as CanvasRenderer.draw).
   * @param {CanvasImageSource} source  video element or ImageBitmap
   * @param {number} srcW
   * @param {number} srcH
   * @param {{data: Uint8Array, width: number, height: number} | null} mask
   * @param {import("./canvas.js").DrawSettings} settings
   */
  draw(source, srcW, srcH, mask, settings) {
    if (!mask || !OVERLAY_MODES.has(settings.mode)) {
      this.cached.key = null; // the fallback may have drawn: rebuild when we are back
      return this.fallback.draw(source, srcW, srcH, mask, /** @type {any} */ (settings));
    }
    const { width: W, height: H } = fitLongSide(srcW, srcH, this.maxSide);
    const side = settings.mode === "side-by-side";
    const colour = this._colour(mask, settings, W, H);
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
    if (side) {
      flip(W);
      ctx.drawImage(source, W, 0, W, H); // hidden classes show the frame on the right too
    }
    ctx.imageSmoothingEnabled = true; // the overlay scales bilinearly
    ctx.drawImage(colour, side ? W : 0, 0, W, H);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  /**
   * The overlay as a W x H canvas, rebuilt only when the result or a setting changed.
   * @param {{data: Uint8Array, width: number, height: number}} mask
   * @param {any} settings
   * @param {number} W
   * @param {number} H
   */
  _colour(mask, settings, W, H) {
    const key = [mask, settings.soft, settings.classes, settings.lut, settings.mode === "side-by-side" || settings.opacity, W, H];
    const c = this.cached;
    if (this.colour && c.key && key.every((v, i) => v === c.key[i])) return this.colour;
    const classes = settings.classes || mask;
    const { width: w, height: h } = fieldSize(classes, W, H);
    this.colour = sizedCanvas(this.colour, w, h);
    if (!this.colourCtx) this.colourCtx = this.colour.getContext("2d");
    const soft = settings.soft || null;
    const opacity = Math.min(1, Math.max(0, Number(settings.opacity) || 0));
    this.image = sizedImage(this.image, w, h);
    overlayAt(settings.mode, classes, soft, settings.lut, opacity, w, h, this.image.data);
    this.colourCtx.putImageData(this.image, 0, 0);
    c.key = key;
    return this.colour;
  }

  /** Blank the canvas (camera stopped). */
  clear() {
    this.fallback.clear();
  }
}
