// The overlay path: the <video> element itself is shown, and a transparent canvas over it
// holds the overlay, drawn once per result (or settings change) instead of once per video
// frame. The browser's compositor puts the two together, so no video pixel passes through
// the page's own code or a canvas. For the modes whose composite is the video alpha-blended
// with one colour per pixel, the overlay is built once per result from the smooth edges
// (edges.js, edge-overlay.js) at edges.js fieldSize (the mask's size, or the display's where
// smaller; contour and confidence at the display's) and scaled to the display bilinearly by
// drawImage:
//
//   filled:     the edge field's class colours, alpha round(255 * opacity) (0 where hidden),
//               mixed with the class across the edge in the anti-aliased band (edge-mix.js)
//   contour:    the class colour, alpha opacity x the line's coverage
//   confidence: the heat colour of the raw alpha scaled bilinearly, alpha as filled
//
// out = v * (1 - A / 255) + c * A / 255 is renderer.js's rule with the compositor's own
// rounding (a level or two). `mirror` is a CSS flip of the video and the overlay together
// (stage-renderer.js), so the overlay is drawn unmirrored.

import { MASK_SIZE_MODES, overlayAt, overlayFromField } from "./edge-overlay.js";
import { edgeField, fieldSize, heatLevel } from "./edges.js";
import { heatLut } from "./effects.js";
import { fitLongSide, sizedCanvas, sizedImage } from "./util.js";

/** Modes this path draws over the live video. */
export const LAYER_MODES = new Set(["filled", "contour", "confidence"]);

const HEAT = heatLut();

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Plane
 * @typedef {{mode: string, opacity: number, lut: Uint8Array, confidence?: Plane | null,
 *   soft?: Plane | null, classes?: Plane | null}} LayerSettings
 */

/**
 * The overlay's RGBA pixels for one result for a W x H display (straight alpha, as ImageData
 * takes them), at edges.js fieldSize.
 * @param {string} mode  one of LAYER_MODES
 * @param {Plane} mask  class indices at model resolution
 * @param {LayerSettings} settings
 * @param {number} W  display size
 * @param {number} H
 * @param {(w: number, h: number) => Uint8ClampedArray} [buffer]  RGBA to fill for a w x h
 *   overlay (a new array by default)
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
export function overlayPixels(mode, mask, settings, W, H, buffer = (w, h) => new Uint8ClampedArray(w * h * 4)) {
  const opacity = Math.min(1, Math.max(0, Number(settings.opacity) || 0));
  if (mode === "confidence") {
    const plane = settings.confidence || mask;
    const { width: w, height: h } = fieldSize(plane, W, H, { mode });
    const A = Math.round(255 * opacity);
    const level = heatLevel(plane, w, h);
    const out = buffer(w, h);
    for (let i = 0, o = 0; i < level.length; i++, o += 4) {
      const k = level[i] * 3;
      out[o] = HEAT[k];
      out[o + 1] = HEAT[k + 1];
      out[o + 2] = HEAT[k + 2];
      out[o + 3] = A;
    }
    return { data: out, width: w, height: h };
  }
  const classes = settings.classes || mask;
  const soft = settings.soft || null;
  const { width: w, height: h } = fieldSize(classes, W, H, { mode });
  if (MASK_SIZE_MODES.has(mode)) return { data: overlayAt(mode, classes, soft, settings.lut, opacity, w, h, buffer(w, h)), width: w, height: h };
  const field = edgeField(classes, soft, w, h, { lines: mode === "contour" });
  return { data: overlayFromField(mode, field, settings.lut, opacity, buffer(w, h)), width: w, height: h };
}

export class LayerRenderer {
  /** @param {HTMLCanvasElement} canvas  the transparent canvas over the video */
  constructor(canvas, { maxSide = 1280 } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.maxSide = maxSide;
    /** @type {any[] | null} what the canvas shows now */
    this.key = null;
    /** @type {any} the overlay at the field's size, before scaling */
    this.small = null;
    /** @type {ImageData | null} its pixels, reused while the size stays */
    this.image = null;
  }

  /**
   * Draw the overlay for `mask` unless the canvas already shows it.
   * @param {number} srcW  the video's intrinsic size
   * @param {number} srcH
   * @param {Plane | null} mask  null: nothing over the video
   * @param {LayerSettings} settings
   * @returns {boolean}  whether anything was drawn
   */
  draw(srcW, srcH, mask, settings) {
    const { width: W, height: H } = fitLongSide(srcW, srcH, this.maxSide);
    const mode = settings.mode;
    const planes = mode === "confidence" ? [settings.confidence, null] : [settings.soft, settings.classes];
    const key = [mask, mode, settings.opacity, settings.lut, ...planes, W, H];
    if (this.key && key.every((v, i) => v === /** @type {any[]} */ (this.key)[i])) return false;
    this.key = key;
    if (!mask) {
      this.canvas.width = W; // resizing clears it
      this.canvas.height = H;
      return true;
    }
    overlayPixels(mode, mask, settings, W, H, (w, h) => {
      this.image = sizedImage(this.image, w, h);
      return this.image.data;
    });
    const image = /** @type {ImageData} */ (this.image);
    const resized = this.canvas.width !== W || this.canvas.height !== H;
    if (resized) {
      this.canvas.width = W;
      this.canvas.height = H;
    }
    if (image.width === W && image.height === H) {
      this.ctx.putImageData(image, 0, 0);
      return true;
    }
    this.small = sizedCanvas(this.small, image.width, image.height);
    this.small.getContext("2d").putImageData(image, 0, 0);
    const ctx = this.ctx;
    if (!resized) ctx.clearRect(0, 0, W, H);
    ctx.imageSmoothingEnabled = true; // bilinear: the field's anti-aliased edges stay smooth
    ctx.drawImage(this.small, 0, 0, W, H);
    return true;
  }

  /** Forget what was drawn (another path drew on the canvas, or it was cleared). */
  reset() {
    this.key = null;
  }
}
