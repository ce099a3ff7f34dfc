// The WebGL renderer: the class modes (filled, contour, side-by-side, blend) and the
// confidence view computed per display pixel in a fragment shader (webgl-shaders.js), the
// video uploaded as a texture per frame, the edge field (edges.js's, at display size) rendered
// on the GPU once per result from the mask-size planes (webgl-field.js) and the palette (a
// 256 x 1 lookup texture) only when they change. It exists for GPUs: where WebGL runs on the CPU
// (SwiftShader, llvmpipe: headless browsers, machines without a GPU driver) its per-frame
// shading costs more CPU than the 2D paths, so `probeWebGL` reports the renderer and
// stage-renderer.js picks WebGL automatically only on a hardware one.

import { heatLut, mirrorPlane } from "./effects.js";
import { fitLongSide } from "./util.js";
import { FieldPass } from "./webgl-field.js";
import { FRAGMENT_SHADER, MODE_IDS, buildProgram } from "./webgl-shaders.js";

/** Modes this renderer draws (blur and replace stay with the canvas effects). */
export const WEBGL_MODES = new Set(Object.keys(MODE_IDS));

const HIDDEN = new Uint8Array(1024); // every class hidden: the plain frame
const NO_MASK = { data: new Uint8Array(1), width: 1, height: 1 };
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render|mesa offscreen/i;

/**
 * @typedef {{data: Uint8Array, width: number, height: number}} Plane
 * @typedef {{ok: boolean, hardware: boolean, renderer: string, reason: string}} WebGLProbe
 */

/**
 * A WebGL context on `canvas` (WebGL 2, else 1), or null.
 * @param {HTMLCanvasElement | OffscreenCanvas} canvas
 * @returns {WebGLRenderingContext | null}
 */
export function webglContext(canvas) {
  // preserveDrawingBuffer: the view's pixels stay readable (tests, screenshots) between frames
  const opts = { alpha: false, antialias: false, depth: false, stencil: false, preserveDrawingBuffer: true };
  try {
    return /** @type {any} */ (canvas.getContext("webgl2", opts) || canvas.getContext("webgl", opts));
  } catch {
    return null;
  }
}

/**
 * Whether WebGL works here and on what: `hardware` is false for a CPU rasteriser.
 * @param {() => HTMLCanvasElement | OffscreenCanvas} [makeCanvas]
 * @returns {WebGLProbe}
 */
export function probeWebGL(makeCanvas = () => document.createElement("canvas")) {
  const gl = webglContext(makeCanvas());
  if (!gl) return { ok: false, hardware: false, renderer: "", reason: "WebGL is unavailable in this browser" };
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
  const lose = gl.getExtension("WEBGL_lose_context");
  if (lose) lose.loseContext();
  const hardware = !!renderer && !SOFTWARE.test(renderer);
  const reason = hardware ? `WebGL on ${renderer}` : `WebGL runs on the CPU here (${renderer || "unknown renderer"})`;
  return { ok: true, hardware, renderer, reason };
}

export class WebGLRenderer {
  /**
   * @param {HTMLCanvasElement} canvas  a canvas without a 2D context
   * @param {{maxSide?: number}} [options]
   */
  constructor(canvas, { maxSide = 1280 } = {}) {
    const gl = webglContext(canvas);
    if (!gl) throw new Error("segwidget: WebGL is unavailable");
    this.canvas = canvas;
    this.gl = gl;
    this.maxSide = maxSide;
    const prog = buildProgram(gl, FRAGMENT_SHADER, "renderer");
    gl.useProgram(prog);
    this.prog = prog;
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    /** @type {Record<string, WebGLTexture>} */
    this.tex = {};
    ["u_video", "u_field", "u_lut", "u_heat"].forEach((name, unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      const t = /** @type {WebGLTexture} */ (gl.createTexture());
      gl.bindTexture(gl.TEXTURE_2D, t);
      for (const [p, v] of [
        [gl.TEXTURE_MIN_FILTER, name === "u_video" ? gl.LINEAR : gl.NEAREST],
        [gl.TEXTURE_MAG_FILTER, name === "u_video" ? gl.LINEAR : gl.NEAREST],
        [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE],
        [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE],
      ]) {
        gl.texParameteri(gl.TEXTURE_2D, p, v);
      }
      gl.uniform1i(gl.getUniformLocation(prog, name), unit);
      this.tex[name] = t;
    });
    const heat = heatLut();
    const rgba = new Uint8Array(256 * 4);
    for (let i = 0; i < 256; i++) rgba.set([heat[i * 3], heat[i * 3 + 1], heat[i * 3 + 2], 255], i * 4);
    this._upload(3, gl.RGBA, 256, 1, rgba);
    this.fieldPass = new FieldPass(gl, 4);
    /** @type {{field: any[], lut: any}} what the textures hold */
    this.held = { field: [], lut: null };
  }

  /**
   * @param {number} unit
   * @param {number} format  gl.RGBA or gl.LUMINANCE
   * @param {number} w
   * @param {number} h
   * @param {Uint8Array} data
   */
  _upload(unit, format, w, h, data) {
    const gl = this.gl;
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.texImage2D(gl.TEXTURE_2D, 0, format, w, h, 0, format, gl.UNSIGNED_BYTE, data);
  }

  /** @param {string} name @param {number[]} values */
  _uniform(name, ...values) {
    const gl = this.gl;
    const loc = gl.getUniformLocation(this.prog, name);
    if (values.length === 2) gl.uniform2f(loc, values[0], values[1]);
    else if (name === "u_opacity") gl.uniform1f(loc, values[0]);
    else gl.uniform1i(loc, values[0]);
  }

  /**
   * Draw one frame (CanvasRenderer.draw's contract, for WEBGL_MODES).
   * @param {TexImageSource} source  video element or ImageBitmap
   * @param {number} srcW
   * @param {number} srcH
   * @param {Plane | null} mask  null: the plain frame
   * @param {{mode: string, opacity: number, lut: Uint8Array, mirror?: boolean, confidence?: Plane | null}} settings
   */
  draw(source, srcW, srcH, mask, settings) {
    const gl = this.gl;
    const { width: W, height: H } = fitLongSide(srcW, srcH, this.maxSide);
    const mode = settings.mode;
    const side = mode === "side-by-side";
    const outW = side ? 2 * W : W;
    if (this.canvas.width !== outW) this.canvas.width = outW;
    if (this.canvas.height !== H) this.canvas.height = H;
    gl.viewport(0, 0, outW, H);
    gl.activeTexture(gl.TEXTURE0);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
    const plain = !mask;
    this._field(mask || NO_MASK, plain ? {} : settings, W, H);
    gl.viewport(0, 0, outW, H); // the field pass draws at W x H
    // no mask: an all-hidden palette draws the plain frame (side-by-side: twice)
    const lut = plain ? HIDDEN : settings.lut;
    if (this.held.lut !== lut) this._upload(2, gl.RGBA, 256, 1, lut);
    this.held.lut = lut;
    this._uniform("u_size", W, H);
    this._uniform("u_opacity", Math.min(1, Math.max(0, Number(settings.opacity) || 0)));
    this._uniform("u_mode", plain && mode === "confidence" ? MODE_IDS.filled : MODE_IDS[/** @type {keyof MODE_IDS} */ (mode)] ?? 0);
    this._uniform("u_mirror", settings.mirror ? 1 : 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  /**
   * Render the edge field (or the heat levels) for this result and size, once.
   * @param {Plane} mask
   * @param {any} settings
   * @param {number} W
   * @param {number} H
   */
  _field(mask, settings, W, H) {
    const mirror = !!settings.mirror;
    const heat = settings.mode === "confidence";
    const planes = heat ? [settings.confidence || mask, null] : [settings.classes || mask, settings.soft || null];
    const key = [...planes, heat, mirror, W, H, settings.mode === "contour"];
    if (key.every((v, i) => v === this.held.field[i])) return;
    this.held.field = key;
    const soft = planes[1] ? mirrorPlane(planes[1], mirror) : null;
    const plane = soft || mirrorPlane(/** @type {Plane} */ (planes[0]), mirror);
    const kind = heat ? "heat" : soft ? "soft" : "vote";
    this.fieldPass.render(this.tex.u_field, plane, kind, W, H, settings.mode === "contour", this.prog);
  }

  /** Blank the canvas (camera stopped). */
  clear() {
    const gl = this.gl;
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
  }
}
