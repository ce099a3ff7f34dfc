// Which renderer draws the stage, and the stage's DOM for each:
//
//   overlay  the live <video> shown under a transparent canvas drawn once per result
//            (layer-renderer.js): filled, contour and confidence over a browser camera
//   webgl    one WebGL canvas drawn per frame (webgl-renderer.js): the class modes and the
//            confidence view, picked by "auto" only where WebGL runs on a hardware GPU
//   canvas   one 2D canvas drawn per frame (overlay-renderer.js, canvas.js, backdrop.js):
//            everything else (blur, replace, side-by-side and blend without a GPU, the
//            kernel's frames), and the fallback of the other two
//
// The `renderer` setting ("auto", "overlay", "canvas", "webgl") forces a path where the mode
// allows it; the path taken and why are on the stage as data-renderer and
// data-renderer-reason, and in the stats overlay.

import { LAYER_MODES, LayerRenderer } from "./layer-renderer.js";
import { OverlayRenderer } from "./overlay-renderer.js";
import { WEBGL_MODES, WebGLRenderer, probeWebGL } from "./webgl-renderer.js";

export const RENDERERS = ["auto", "overlay", "canvas", "webgl"];

/**
 * @typedef {"overlay" | "webgl" | "canvas"} RenderPath
 * @typedef {import("./webgl-renderer.js").WebGLProbe} WebGLProbe
 */

/**
 * The path for a draw, with the reason shown to the user.
 * @param {{setting?: string, mode: string, live: boolean, webgl: () => WebGLProbe}} options
 *   live: the source is the browser's camera (the <video> can be shown as it is);
 *   webgl: probes WebGL (called only when the answer matters)
 * @returns {{path: RenderPath, reason: string}}
 */
export function choosePath({ setting = "auto", mode, live, webgl }) {
  if (!WEBGL_MODES.has(mode)) return { path: "canvas", reason: `${mode} uses the canvas effects` };
  if (setting === "canvas") return { path: "canvas", reason: "renderer: canvas" };
  let why = "";
  if (setting === "webgl") {
    const probe = webgl();
    if (probe.ok) return { path: "webgl", reason: `renderer: webgl (${probe.reason})` };
    why = `${probe.reason}; `;
  }
  if (live && LAYER_MODES.has(mode)) return { path: "overlay", reason: `${why}${mode}: the video under an overlay drawn per result` };
  if (!live && setting === "overlay") why += "the kernel's frames are drawn with their masks; ";
  if (setting === "auto" || setting === "overlay") {
    const probe = webgl();
    if (setting === "auto" && probe.ok && probe.hardware) return { path: "webgl", reason: probe.reason };
    why += probe.ok && !probe.hardware ? `${probe.reason}: 2D is cheaper` : probe.reason;
  }
  return { path: "canvas", reason: why.replace(/; $/, "") || "2D canvas" };
}

export class StageRenderer {
  /**
   * @param {{stage: HTMLElement, canvas: HTMLCanvasElement}} view
   * @param {{probe?: () => WebGLProbe, maxSide?: number}} [options]
   */
  constructor(view, { probe = probeWebGL, maxSide = 1280 } = {}) {
    this.stage = view.stage;
    this.canvas = view.canvas;
    this.maxSide = maxSide;
    this.canvas2d = new OverlayRenderer(view.canvas, { maxSide });
    this.layers = new LayerRenderer(view.canvas, { maxSide });
    /** @type {WebGLRenderer | null} */
    this.gl = null;
    /** @type {WebGLProbe | null} */
    this.probed = null;
    this.probe = () => (this.probed = this.probed || probe());
    /** @type {{path: RenderPath, reason: string}} */
    this.current = { path: "canvas", reason: "" };
  }

  /**
   * Draw one frame; the overlay path draws only when the result or a setting changed.
   * @param {CanvasImageSource} source  the video element or the kernel's frame
   * @param {number} srcW
   * @param {number} srcH
   * @param {import("./renderer.js").Mask | null} mask
   * @param {import("./canvas.js").DrawSettings & {renderer?: string}} settings
   * @param {boolean} live  `source` is the browser camera's <video>
   * @returns {boolean}  whether pixels were drawn
   */
  draw(source, srcW, srcH, mask, settings, live) {
    let choice = choosePath({ setting: settings.renderer, mode: settings.mode, live, webgl: this.probe });
    if (choice.path === "webgl" && !this._webgl()) choice = { path: "canvas", reason: "WebGL failed to start: 2D canvas" };
    this._show(choice, !!settings.mirror);
    if (choice.path === "overlay") return this.layers.draw(srcW, srcH, mask, settings);
    if (choice.path === "webgl") {
      /** @type {WebGLRenderer} */ (this.gl).draw(/** @type {any} */ (source), srcW, srcH, mask, settings);
    } else {
      this.canvas2d.draw(source, srcW, srcH, mask, settings);
    }
    return true;
  }

  /** The WebGL renderer on its own canvas (created once), or null where it cannot start. */
  _webgl() {
    if (this.gl) return this.gl;
    if (this.glFailed) return null;
    const canvas = document.createElement("canvas");
    canvas.className = "sw-glcanvas sw-hidden";
    try {
      this.gl = new WebGLRenderer(canvas, { maxSide: this.maxSide });
    } catch (err) {
      console.warn("segwidget: WebGL renderer unavailable, drawing in 2D", err);
      this.glFailed = true;
      return null;
    }
    this.canvas.after(canvas);
    return this.gl;
  }

  /**
   * The stage's layers for a path.
   * @param {{path: RenderPath, reason: string}} choice
   * @param {boolean} mirror
   */
  _show(choice, mirror) {
    const { stage } = this;
    if (choice.path !== this.current.path) this.layers.reset(); // the 2D paths share its canvas
    this.current = choice;
    if (stage.dataset.renderer !== choice.path) stage.dataset.renderer = choice.path;
    if (stage.dataset.rendererReason !== choice.reason) stage.dataset.rendererReason = choice.reason;
    stage.classList.toggle("sw-layered", choice.path === "overlay");
    stage.classList.toggle("sw-mirror", choice.path === "overlay" && mirror);
    this.canvas.classList.toggle("sw-hidden", choice.path === "webgl");
    if (this.gl) this.gl.canvas.classList.toggle("sw-hidden", choice.path !== "webgl");
  }

  /** Blank the stage (camera stopped). */
  clear() {
    this.layers.reset();
    this.canvas2d.clear();
    if (this.gl) this.gl.clear();
    this.stage.classList.remove("sw-layered", "sw-mirror");
  }
}
