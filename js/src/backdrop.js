// The canvas side of the background effects (see effects.js for the rules): the person alpha
// at display size (edges.js alphaAt: bilinear through the smoothstep ramp, once per result),
// the person cut out of the video, and the new background under it, canvas 2D draws
// (filters, compositing) that Chromium runs on the GPU when it has one.

import { backgroundBytes } from "./background-wire.js";
import { alphaAt } from "./edges.js";
import { BLUR_SIGMA, DEFAULT_BACKGROUND, coverRect } from "./effects.js";
import { sizedCanvas } from "./util.js";

/**
 * @typedef {import("./effects.js").Plane} Plane
 * @typedef {{color: string, bitmap: ImageBitmap | null}} Background
 * @typedef {{canvas: any, ctx: any}} Surface
 */

/**
 * @param {number} w
 * @param {number} h
 */
function defaultCanvas(w, h) {
  return sizedCanvas(null, w, h);
}

/**
 * Draw the video at W x H, flipped left-right when mirrored.
 * @param {any} ctx
 * @param {CanvasImageSource} source
 * @param {number} W
 * @param {number} H
 * @param {boolean} mirror
 */
export function drawSource(ctx, source, W, H, mirror) {
  if (!mirror) return ctx.drawImage(source, 0, 0, W, H);
  ctx.setTransform(-1, 0, 0, 1, W, 0);
  ctx.drawImage(source, 0, 0, W, H);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

/** Paints blur and replace; holds its work canvases and the display-size alpha between frames. */
export class EffectsPainter {
  /** @param {{createCanvas?: (w: number, h: number) => any}} [options]  (tests pass a fake) */
  constructor({ createCanvas = defaultCanvas } = {}) {
    this.createCanvas = createCanvas;
    /** @type {Record<string, Surface>} */
    this.surfaces = {};
    /** @type {{alpha: Plane | null, W: number, H: number}} */
    this.cached = { alpha: null, W: 0, H: 0 };
  }

  /**
   * @param {string} name
   * @param {number} w
   * @param {number} h
   * @returns {Surface}
   */
  surface(name, w, h) {
    let s = this.surfaces[name];
    if (!s) {
      const canvas = this.createCanvas(w, h);
      s = this.surfaces[name] = { canvas, ctx: canvas.getContext("2d") };
    }
    if (s.canvas.width !== w) s.canvas.width = w;
    if (s.canvas.height !== h) s.canvas.height = h;
    return s;
  }

  /**
   * The alpha as a W x H canvas (alpha channel only): scaled bilinearly through the edge
   * ramp (no blur: a blur would let the old background glow around the person). Rebuilt only
   * for a new alpha or display size.
   * @param {Plane} alpha
   * @param {number} W
   * @param {number} H
   */
  mask(alpha, W, H) {
    const c = this.cached;
    const big = this.surface("mask", W, H);
    if (c.alpha === alpha && c.W === W && c.H === H) return big.canvas;
    const a = alphaAt(alpha, W, H);
    const img = big.ctx.createImageData(W, H);
    for (let i = 0; i < a.length; i++) img.data[i * 4 + 3] = a[i];
    big.ctx.putImageData(img, 0, 0);
    Object.assign(c, { alpha, W, H });
    return big.canvas;
  }

  /**
   * Paint one frame onto `ctx` (a W x H canvas).
   * @param {any} ctx
   * @param {CanvasImageSource} source  the video (or the kernel's frame)
   * @param {number} W
   * @param {number} H
   * @param {Plane} alpha  smoothed person alpha at model resolution, already mirrored
   * @param {"blur" | "replace"} mode
   * @param {Background} background
   * @param {boolean} mirror
   */
  paint(ctx, source, W, H, alpha, mode, background, mirror) {
    const mask = this.mask(alpha, W, H);
    const fg = this.surface("person", W, H);
    fg.ctx.globalCompositeOperation = "copy";
    drawSource(fg.ctx, source, W, H, mirror);
    fg.ctx.globalCompositeOperation = "destination-in";
    fg.ctx.drawImage(mask, 0, 0);
    fg.ctx.globalCompositeOperation = "source-over";
    if (mode === "blur") {
      // the sharp video first: a canvas blur fades to transparent at the borders
      drawSource(ctx, source, W, H, mirror);
      ctx.filter = `blur(${(BLUR_SIGMA * Math.max(W, H)).toFixed(2)}px)`;
      drawSource(ctx, source, W, H, mirror);
      ctx.filter = "none";
    } else {
      ctx.fillStyle = background.color || DEFAULT_BACKGROUND;
      ctx.fillRect(0, 0, W, H);
      const bmp = background.bitmap;
      if (bmp) ctx.drawImage(bmp, ...coverRect(bmp.width, bmp.height, W, H));
    }
    ctx.drawImage(fg.canvas, 0, 0);
  }
}

/**
 * The `background` setting ({color} or {image, mime}) as something to draw; an image is
 * decoded once into an ImageBitmap (`onLoad` fires then, to redraw).
 */
export class BackgroundSource {
  /** @param {() => void} [onLoad] */
  constructor(onLoad) {
    this.onLoad = onLoad || (() => {});
    /** @type {any} */
    this.setting = undefined;
    /** @type {Background} */
    this.value = { color: DEFAULT_BACKGROUND, bitmap: null };
  }

  /** @param {any} setting  the store's `background` */
  set(setting) {
    if (setting === this.setting) return;
    this.setting = setting;
    if (this.value.bitmap && this.value.bitmap.close) this.value.bitmap.close();
    const color = setting && typeof setting.color === "string" ? setting.color : DEFAULT_BACKGROUND;
    this.value = { color, bitmap: null };
    const bytes = backgroundBytes(setting);
    if (!bytes || typeof createImageBitmap !== "function") return;
    const blob = new Blob([bytes], { type: setting.mime || "image/jpeg" });
    createImageBitmap(blob).then(
      (bitmap) => {
        if (this.setting !== setting) return bitmap.close();
        this.value = { color, bitmap };
        this.onLoad();
      },
      (err) => console.error("segwidget: the background image could not be decoded", err),
    );
  }

  /** @returns {Background} */
  get() {
    return this.value;
  }
}
