// The overlay path: the <video> element itself is shown, and a transparent canvas over it
// holds the overlay, drawn once per result (or settings change) instead of once per video
// frame. The browser's compositor puts the two together, so no video pixel passes through
// the page's own code or a canvas. For the modes whose composite is the video alpha-blended
// with one colour per pixel:
//
//   filled:     class colour, alpha round(255 * opacity) (0 where hidden), coloured at mask
//               resolution and scaled to the display size by drawImage (nearest neighbour,
//               ties broken as overlay-renderer.js does), so the overlay has the video's
//               aspect whatever the model's (a square mask over a 4:3 camera)
//   contour:    display resolution (the 2 px class edges are defined there, renderer.js);
//               boundary pixels in their class colour at that alpha, the rest transparent
//   confidence: the heat colour of the raw alpha, alpha as filled, scaled as filled
//
// out = v * (1 - A / 255) + c * A / 255 is renderer.js's rule with the opacity quantised to
// 1/255 (half a level at most) and the compositor's own rounding. `mirror` is a CSS flip of
// the video and the overlay together (stage-renderer.js), so the overlay is drawn unmirrored.

import { heatLut } from "./effects.js";
import { TIE } from "./overlay-renderer.js";
import { boundaryMap, upsampleNearest } from "./mask-geometry.js";
import { fitLongSide, sizedCanvas } from "./util.js";

/** Modes this path draws over the live video. */
export const LAYER_MODES = new Set(["filled", "contour", "confidence"]);

const HEAT = heatLut();

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Plane
 * @typedef {{mode: string, opacity: number, lut: Uint8Array, confidence?: Plane | null}} LayerSettings
 */

/**
 * The overlay's RGBA pixels for one result (straight alpha, as ImageData takes them).
 * @param {string} mode  one of LAYER_MODES
 * @param {Plane} mask  class indices at model resolution
 * @param {LayerSettings} settings
 * @param {number} W  display size (contour is drawn at it)
 * @param {number} H
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
export function overlayPixels(mode, mask, settings, W, H) {
  const A = Math.round(255 * Math.min(1, Math.max(0, Number(settings.opacity) || 0)));
  const lut = settings.lut;
  if (mode === "confidence") {
    const plane = settings.confidence || mask;
    const n = plane.data.length;
    const out = new Uint8ClampedArray(n * 4);
    for (let i = 0, o = 0; i < n; i++, o += 4) {
      const h = plane.data[i] * 3;
      out[o] = HEAT[h];
      out[o + 1] = HEAT[h + 1];
      out[o + 2] = HEAT[h + 2];
      out[o + 3] = A;
    }
    return { data: out, width: plane.width, height: plane.height };
  }
  const contour = mode === "contour";
  const w = contour ? W : mask.width;
  const h = contour ? H : mask.height;
  const classes = contour ? upsampleNearest(mask.data, mask.width, mask.height, W, H) : mask.data;
  const edge = contour ? boundaryMap(classes, W, H) : null;
  const out = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, o = 0; i < w * h; i++, o += 4) {
    const k = classes[i] * 4;
    if (!lut[k + 3] || (edge && !edge[i])) continue; // transparent: the video shows
    out[o] = lut[k];
    out[o + 1] = lut[k + 1];
    out[o + 2] = lut[k + 2];
    out[o + 3] = A;
  }
  return { data: out, width: w, height: h };
}

export class LayerRenderer {
  /** @param {HTMLCanvasElement} canvas  the transparent canvas over the video */
  constructor(canvas, { maxSide = 1280 } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.maxSide = maxSide;
    /** @type {any[] | null} what the canvas shows now */
    this.key = null;
    /** @type {any} the overlay at mask resolution, before scaling */
    this.small = null;
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
    const key = [mask, mode, settings.opacity, settings.lut, mode === "confidence" ? settings.confidence : null, W, H];
    if (this.key && key.every((v, i) => v === /** @type {any[]} */ (this.key)[i])) return false;
    this.key = key;
    if (!mask) {
      this.canvas.width = W; // resizing clears it
      this.canvas.height = H;
      return true;
    }
    const px = overlayPixels(mode, mask, settings, W, H);
    const image = new ImageData(px.data, px.width, px.height);
    const resized = this.canvas.width !== W || this.canvas.height !== H;
    if (resized) {
      this.canvas.width = W;
      this.canvas.height = H;
    }
    if (px.width === W && px.height === H) {
      this.ctx.putImageData(image, 0, 0);
      return true;
    }
    this.small = sizedCanvas(this.small, px.width, px.height);
    this.small.getContext("2d").putImageData(image, 0, 0);
    const ctx = this.ctx;
    if (!resized) ctx.clearRect(0, 0, W, H);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.small, TIE, TIE, px.width, px.height, 0, 0, W, H);
    return true;
  }

  /** Forget what was drawn (another path drew on the canvas, or it was cleared). */
  reset() {
    this.key = null;
  }
}
