// Background effects (blur, replace) and the confidence view; the browser's twin of
// segwidget/effects.py.
//
//   person alpha: the result's `confidence` (uint8 person probability at model resolution)
//     when the server sent it, else the profile's "person" class summed over 3x3 at mask
//     resolution (edges.js classAlpha: its bilinear 0.5 line is the class vote's boundary).
//   smoothing:    s = k * s_prev + (1 - k) * alpha per result, k = HOLD_MAX * smoothing
//                 (0: off); it starts over when the alpha's size changes. Applies in every
//                 view: the class modes draw a soft profile's classes from s, and other
//                 profiles' class masks are steadied (ClassSteadier).
//   blur/replace: the alpha scaled to the display through the edge ramp (edges.js alphaAt,
//                 once per result); the person is the video `destination-in` that alpha,
//                 drawn over the background: the video through `blur(sigma px)` or a colour
//                 or an image scaled to cover (canvas 2D work Chromium runs on the GPU).
//   confidence:   heat colour of the raw alpha scaled bilinearly (edges.js heatLevel),
//                 out = round(v * (1 - a) + heat * a): bit-exact with numpy.
//   mirror:       a display transform: video and masks flip left-right together; frames sent
//                 to the server are never mirrored.

import { classAlpha } from "./edges.js";

export const EFFECT_MODES = ["blur", "replace", "confidence"];
/** Modes that composite the person over a new background. */
export const BACKGROUND_MODES = ["blur", "replace"];
export const HOLD_MAX = 0.9;
export const BLUR_SIGMA = 0.02; // of the display's long side
export const DEFAULT_BACKGROUND = "#00ff00";

const HEAT_STOPS = [
  [0, [0, 0, 255]],
  [64, [0, 255, 255]],
  [128, [0, 255, 0]],
  [192, [255, 255, 0]],
  [255, [255, 0, 0]],
];

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Plane  uint8, row-major
 * @typedef {{color: string} | {image: ArrayBuffer | ArrayBufferView, mime?: string}} BackgroundSetting
 */

/** @param {string[]} labels */
export function personIndex(labels) {
  const i = (labels || []).indexOf("person");
  return i < 0 ? null : i;
}

/**
 * @param {Plane} mask
 * @param {Uint8Array | null} confidence  same size as mask, or null
 * @param {number | null} person  class index, or null
 * @returns {Uint8Array}
 */
export function personAlpha(mask, confidence, person) {
  if (confidence) return confidence;
  if (person === null || person === undefined) return new Uint8Array(mask.data.length);
  return classAlpha(mask, person);
}

/** Exponential moving average of the person alpha over results. */
export class AlphaSmoother {
  constructor() {
    /** @type {Float32Array | null} */
    this.state = null;
    this.width = 0;
    this.height = 0;
  }

  /**
   * @param {Plane} alpha
   * @param {number} smoothing  0..1
   * @returns {Plane}
   */
  update(alpha, smoothing) {
    const k = HOLD_MAX * Math.min(1, Math.max(0, Number(smoothing) || 0));
    const n = alpha.data.length;
    const fresh = !this.state || this.width !== alpha.width || this.height !== alpha.height || k === 0;
    const out = new Uint8Array(n);
    if (fresh) {
      this.state = Float32Array.from(alpha.data);
      this.width = alpha.width;
      this.height = alpha.height;
      out.set(alpha.data);
    } else {
      const s = /** @type {Float32Array} */ (this.state);
      const kf = Math.fround(k);
      const bf = Math.fround(1 - k);
      const a = alpha.data;
      for (let i = 0; i < n; i++) {
        const v = Math.fround(Math.fround(s[i] * kf) + Math.fround(a[i] * bf));
        s[i] = v;
        out[i] = Math.floor(v + 0.5);
      }
    }
    return { data: out, width: alpha.width, height: alpha.height };
  }

  reset() {
    this.state = null;
  }
}

/**
 * Steadies a class mask over results at mask resolution: a pixel takes a new class only
 * when two consecutive results agree on it (one result of hysteresis), so camera noise does
 * not make classes flicker; off (the raw mask) at smoothing 0.
 */
export class ClassSteadier {
  constructor() {
    /** @type {Plane | null} what was shown */
    this.shown = null;
    /** @type {Plane | null} the previous raw mask */
    this.last = null;
  }

  /**
   * @param {Plane} mask
   * @param {number} smoothing  0..1
   * @returns {Plane}
   */
  update(mask, smoothing) {
    const { shown, last } = this;
    this.last = mask;
    if (!(Number(smoothing) > 0) || !shown || !last || shown.data.length !== mask.data.length || shown.width !== mask.width) {
      return (this.shown = mask);
    }
    const out = new Uint8Array(mask.data.length);
    const [r, s, l] = [mask.data, shown.data, last.data];
    let i = 0;
    if (r.byteOffset % 4 === 0 && s.byteOffset % 4 === 0) {
      // four pixels at once where nothing changed (most of a frame)
      const n4 = r.length >> 2;
      const [r32, s32, o32] = [r, s, out].map((a) => new Uint32Array(a.buffer, a.byteOffset, n4));
      for (let j = 0; j < n4; j++) {
        if (r32[j] === s32[j]) o32[j] = r32[j];
        else for (let b = j * 4; b < j * 4 + 4; b++) out[b] = r[b] === s[b] || r[b] === l[b] ? r[b] : s[b];
      }
      i = n4 * 4;
    }
    for (; i < r.length; i++) out[i] = r[i] === s[i] || r[i] === l[i] ? r[i] : s[i];
    return (this.shown = { data: out, width: mask.width, height: mask.height });
  }

  reset() {
    this.shown = null;
    this.last = null;
  }
}

/** @returns {Uint8Array}  256 x RGB heat colours, as segwidget/effects.py heat_lut() */
export function heatLut() {
  const out = new Uint8Array(256 * 3);
  for (let s = 0; s < HEAT_STOPS.length - 1; s++) {
    const [v0, c0] = /** @type {[number, number[]]} */ (HEAT_STOPS[s]);
    const [v1, c1] = /** @type {[number, number[]]} */ (HEAT_STOPS[s + 1]);
    for (let v = v0; v <= v1; v++) {
      const t = (v - v0) / (v1 - v0);
      for (let ch = 0; ch < 3; ch++) out[v * 3 + ch] = Math.floor(c0[ch] + (c1[ch] - c0[ch]) * t + 0.5);
    }
  }
  return out;
}

const HEAT = heatLut();

/**
 * confidence view: the heat colour of `alpha` (already at display size) over the video.
 * @param {Uint8ClampedArray | Uint8Array} video  RGBA, W x H
 * @param {Uint8Array} alpha  W x H
 * @param {number} W
 * @param {number} H
 * @param {number} opacity
 * @param {Uint8ClampedArray} [out]
 * @returns {Uint8ClampedArray}
 */
export function composeConfidence(video, alpha, W, H, opacity, out) {
  const n = W * H;
  const dst = out && out.length === n * 4 ? out : new Uint8ClampedArray(n * 4);
  const a = Math.min(1, Math.max(0, Number(opacity) || 0));
  const b = 1 - a;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const h = alpha[i] * 3;
    dst[j] = Math.floor(video[j] * b + HEAT[h] * a + 0.5);
    dst[j + 1] = Math.floor(video[j + 1] * b + HEAT[h + 1] * a + 0.5);
    dst[j + 2] = Math.floor(video[j + 2] * b + HEAT[h + 2] * a + 0.5);
    dst[j + 3] = 255;
  }
  return dst;
}

/**
 * A plane flipped left-right (mirror).
 * @param {Uint8Array} data
 * @param {number} w
 * @param {number} h
 */
export function flipRows(data, w, h) {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = data[o + w - 1 - x];
  }
  return out;
}

/**
 * Whether the view mirrors: `mirror` true or false forces it; null/undefined (auto) mirrors
 * a browser camera that reports itself facing the user. Kernel sources mirror only when asked.
 * @param {boolean | null | undefined} setting
 * @param {string} sourceKind  "browser" | "kernel"
 * @param {string | undefined} facingMode  the camera track's facingMode setting
 */
export function resolveMirror(setting, sourceKind, facingMode) {
  if (setting === true || setting === false) return setting;
  return sourceKind !== "kernel" && facingMode === "user";
}

/**
 * `source` at W x H scaled to cover it (aspect kept, centred), as CSS object-fit: cover.
 * @param {number} sw
 * @param {number} sh
 * @param {number} W
 * @param {number} H
 * @returns {[number, number, number, number]}  x, y, width, height to draw at
 */
export function coverRect(sw, sh, W, H) {
  const s = Math.max(W / sw, H / sh);
  const w = sw * s;
  const h = sh * s;
  return [(W - w) / 2, (H - h) / 2, w, h];
}

/** @type {WeakMap<Plane, Plane>} */
const flipped = new WeakMap();

/**
 * `plane` flipped left-right when `on` (cached per plane object), else itself.
 * @param {Plane} plane
 * @param {boolean} on
 * @returns {Plane}
 */
export function mirrorPlane(plane, on) {
  if (!on) return plane;
  let f = flipped.get(plane);
  if (!f) {
    f = { data: flipRows(plane.data, plane.width, plane.height), width: plane.width, height: plane.height };
    flipped.set(plane, f);
  }
  return f;
}
