// Small helpers shared by several modules.

/**
 * Scale (w, h) down, keeping the aspect ratio, so the long side is at most maxSide.
 * Never scales up.
 * @param {number} w
 * @param {number} h
 * @param {number} maxSide
 * @returns {{width: number, height: number}}
 */
export function fitLongSide(w, h, maxSide) {
  const s = Math.min(1, maxSide / Math.max(w, h, 1));
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/**
 * A 2D scratch canvas of w x h: `canvas` itself, resized only if its size differs (resizing
 * clears it), or a new one (an OffscreenCanvas, a DOM canvas where that is missing).
 * @template {HTMLCanvasElement | OffscreenCanvas} C
 * @param {C | null | undefined} canvas
 * @param {number} w
 * @param {number} h
 * @returns {C | OffscreenCanvas | HTMLCanvasElement}
 */
export function sizedCanvas(canvas, w, h) {
  const c = canvas || (typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(w, h) : document.createElement("canvas"));
  if (c.width !== w || c.height !== h) {
    c.width = w;
    c.height = h;
  }
  return c;
}

/**
 * `image` if it is w x h, else a new ImageData of that size (a renderer keeps one per size:
 * its pixels are drawn at once, so the next draw may overwrite them).
 * @param {ImageData | null | undefined} image
 * @param {number} w
 * @param {number} h
 * @returns {ImageData}
 */
export function sizedImage(image, w, h) {
  return image && image.width === w && image.height === h ? image : new ImageData(w, h);
}

/** Mean of the samples of the last `windowMs` milliseconds. */
export class RollingMean {
  /** @param {number} [windowMs] */
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    /** @type {[number, number][]} */
    this.samples = [];
  }

  /**
   * @param {number} value
   * @param {number} t  time of the sample (ms)
   */
  add(value, t) {
    this.samples.push([t, value]);
    this._trim(t);
  }

  /**
   * @param {number} t  now (ms)
   * @returns {number | null}  null when there is no sample in the window
   */
  mean(t) {
    this._trim(t);
    if (!this.samples.length) return null;
    return this.samples.reduce((s, [, v]) => s + v, 0) / this.samples.length;
  }

  /**
   * Samples per second over the window.
   * @param {number} t
   */
  rate(t) {
    this._trim(t);
    return (this.samples.length * 1000) / this.windowMs;
  }

  /** @param {number} t */
  _trim(t) {
    while (this.samples.length && this.samples[0][0] <= t - this.windowMs) this.samples.shift();
  }
}

/**
 * Create an element: h("div", {class: "x", onclick: f}, child, "text").
 * Attributes starting with "on" become listeners; `false`/`null` attributes are skipped.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c || c === "") el.append(c);
  return el;
}
