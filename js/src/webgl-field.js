// The WebGL renderer's edge field, computed on the GPU: once per result (or display size), a
// pass renders edges.js's field at display size into a texture (RGBA = k1, k2, t, line; the
// confidence view's heat level in R) that the per-frame shader (webgl-shaders.js) reads.
// Only the mask-size planes and the bilinear taps (once per size) cross from the CPU, so a
// GPU machine pays no per-display-pixel work on its CPU. The same integer rules as
// edges.js / edge-vote.js: taps in 1/256 (edge-vote.js bilinearTaps, uploaded), each class's
// one-hot plane summed over 3x3 and scaled bilinearly, i.e. the 16 cells of a display
// pixel's 4x4 mask footprint weighted (Q - fx, Q, Q, fx) x (Q - fy, Q, Q, fy); sums stay below
// 2^24, exact in a float. Only the last rounding of t and line may differ by a level from
// the CPU's float64.

import { bilinearTaps, voteScale } from "./edge-vote.js";
import { buildProgram } from "./webgl-shaders.js";

/** Field kinds of u_kind. */
const KINDS = { vote: 0, soft: 1, heat: 2 };

export const FIELD_SHADER = `
precision highp float;
uniform sampler2D u_plane;  // classes, or the soft / heat plane (LUMINANCE, mask size)
uniform sampler2D u_taps;   // row 0: x taps, row 1: y taps; i0 = R + 256 G, f = B
uniform vec2 u_msize;       // mask size
uniform vec2 u_size;        // display size
uniform float u_tapsW;
uniform float u_K;          // display px per unit of vote margin (edge-vote.js voteScale)
uniform int u_kind;         // 0 vote, 1 soft, 2 heat
uniform bool u_lines;

const float Q = 256.0;

float byte(float v) { return floor(v * 255.0 + 0.5); }

float at(float x, float y) {
  vec2 p = clamp(vec2(x, y), vec2(0.0), u_msize - 1.0);
  return byte(texture2D(u_plane, (p + 0.5) / u_msize).r);
}

vec2 tap(float i, float row) {
  vec4 t = texture2D(u_taps, vec2((i + 0.5) / u_tapsW, (row + 0.5) / 2.0));
  return vec2(byte(t.r) + 256.0 * byte(t.g), byte(t.b));
}

// edges.js sums: the bilinear value of the plane x 65536 at display pixel p
float bilinear(vec2 p) {
  vec2 tx = tap(p.x, 0.0);
  vec2 ty = tap(p.y, 1.0);
  float top = at(tx.x, ty.x) * (Q - tx.y) + at(tx.x + 1.0, ty.x) * tx.y;
  float bottom = at(tx.x, ty.x + 1.0) * (Q - tx.y) + at(tx.x + 1.0, ty.x + 1.0) * tx.y;
  return top * (Q - ty.y) + bottom * ty.y;
}

vec4 soft(vec2 p) {
  float HALF = 255.0 * Q * Q;
  float v = bilinear(p);
  float share = floor((v + 32768.0) / 65536.0);
  vec4 f = v * 2.0 >= HALF ? vec4(1.0, 0.0, share, 0.0) : vec4(0.0, 1.0, 255.0 - share, 0.0);
  if (u_lines) {
    float gx = bilinear(vec2(min(p.x + 1.0, u_size.x - 1.0), p.y)) - bilinear(vec2(max(p.x - 1.0, 0.0), p.y));
    float gy = bilinear(vec2(p.x, min(p.y + 1.0, u_size.y - 1.0))) - bilinear(vec2(p.x, max(p.y - 1.0, 0.0)));
    float g = sqrt(gx * gx + gy * gy);
    if (g > 0.0) f.a = floor(255.0 * clamp(1.5 - abs(2.0 * v - HALF) / g, 0.0, 1.0) + 0.5);
  }
  return f;
}

vec4 vote(vec2 p) {
  vec2 tx = tap(p.x, 0.0);
  vec2 ty = tap(p.y, 1.0);
  float ks[16];
  float ws[16];
  for (int r = 0; r < 4; r++) {
    float rw = r == 0 ? Q - ty.y : r == 3 ? ty.y : Q;
    for (int c = 0; c < 4; c++) {
      float cw = c == 0 ? Q - tx.y : c == 3 ? tx.y : Q;
      ks[r * 4 + c] = at(tx.x - 1.0 + float(c), ty.x - 1.0 + float(r));
      ws[r * 4 + c] = rw * cw;
    }
  }
  float bw = -1.0, bk = 256.0, sw = -1.0, sk = 256.0;
  for (int j = 0; j < 16; j++) {
    if (ws[j] == 0.0) continue;
    float k = ks[j];
    float w = 0.0;
    bool seen = false;
    for (int m = 0; m < 16; m++) {
      if (ks[m] != k) continue;
      w += ws[m];
      if (m < j && ws[m] > 0.0) seen = true;
    }
    if (seen) continue;
    if (w > bw || (w == bw && k < bk)) {
      sw = bw; sk = bk; bw = w; bk = k;
    } else if (w > sw || (w == sw && k < sk)) {
      sw = w; sk = k;
    }
  }
  if (sw <= 0.0) return vec4(bk, bk, 255.0, 0.0);
  float d = (bw - sw) * u_K;
  return vec4(bk, sk, floor(255.0 * min(1.0, 0.5 + d) + 0.5), floor(255.0 * clamp(1.5 - d, 0.0, 1.0) + 0.5));
}

void main() {
  // texture row y holds display row y (top first, as an upload of the field would)
  vec2 p = floor(gl_FragCoord.xy);
  vec4 f;
  if (u_kind == 2) f = vec4(floor((bilinear(p) + 32768.0) / 65536.0), 0.0, 0.0, 0.0);
  else if (u_kind == 1) f = soft(p);
  else f = vote(p);
  gl_FragColor = f / 255.0;
}
`;

/**
 * @typedef {import("./edges.js").Plane} Plane
 */

/**
 * The taps texture's bytes for a W x H display over a w x h plane (edge-vote.js bilinearTaps).
 * @param {number} w
 * @param {number} h
 * @param {number} W
 * @param {number} H
 */
export function tapBytes(w, h, W, H) {
  const n = Math.max(W, H);
  const out = new Uint8Array(n * 2 * 4);
  [bilinearTaps(w, W), bilinearTaps(h, H)].forEach((t, row) => {
    for (let i = 0; i < t.i0.length; i++) out.set([t.i0[i] & 255, t.i0[i] >> 8, t.f[i], 0], (row * n + i) * 4);
  });
  return { data: out, width: n };
}

/** Renders the edge field into a texture with the quad bound at attribute 0 (the renderer's);
 * the caller's program is restored after. */
export class FieldPass {
  /**
   * @param {WebGLRenderingContext} gl
   * @param {number} firstUnit  the first of the three texture units this pass uses (plane,
   *   taps, and the target while it is attached)
   */
  constructor(gl, firstUnit) {
    this.gl = gl;
    this.unit = firstUnit;
    this.prog = buildProgram(gl, FIELD_SHADER, "field");
    this.plane = this._texture(firstUnit);
    this.taps = this._texture(firstUnit + 1);
    this.framebuffer = /** @type {WebGLFramebuffer} */ (gl.createFramebuffer());
    /** @type {string} the taps' sizes */
    this.tapsKey = "";
    this.tapsWidth = 1;
  }

  /** @param {number} unit */
  _texture(unit) {
    const gl = this.gl;
    gl.activeTexture(gl.TEXTURE0 + unit);
    const t = /** @type {WebGLTexture} */ (gl.createTexture());
    gl.bindTexture(gl.TEXTURE_2D, t);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
    return t;
  }

  /**
   * Render the field of `plane` at W x H into `target` (an RGBA texture, resized here).
   * @param {WebGLTexture} target
   * @param {Plane} plane  classes (kind "vote"), the person probability ("soft") or the
   *   confidence view's plane ("heat")
   * @param {"vote" | "soft" | "heat"} kind
   * @param {number} W
   * @param {number} H
   * @param {boolean} lines  the soft field's contour lines
   * @param {WebGLProgram} restore  the program to use again after
   */
  render(target, plane, kind, W, H, lines, restore) {
    const gl = this.gl;
    const { width: w, height: h } = plane;
    gl.activeTexture(gl.TEXTURE0 + this.unit);
    gl.bindTexture(gl.TEXTURE_2D, this.plane);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, w, h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, plane.data);
    const key = `${w}x${h}>${W}x${H}`;
    if (key !== this.tapsKey) {
      const taps = tapBytes(w, h, W, H);
      gl.activeTexture(gl.TEXTURE0 + this.unit + 1);
      gl.bindTexture(gl.TEXTURE_2D, this.taps);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, taps.width, 2, 0, gl.RGBA, gl.UNSIGNED_BYTE, taps.data);
      this.tapsKey = key;
      this.tapsWidth = taps.width;
    }
    gl.activeTexture(gl.TEXTURE0 + this.unit + 2);
    gl.bindTexture(gl.TEXTURE_2D, target);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, W, H, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, target, 0);
    gl.useProgram(this.prog);
    const u = (/** @type {string} */ name) => gl.getUniformLocation(this.prog, name);
    gl.uniform1i(u("u_plane"), this.unit);
    gl.uniform1i(u("u_taps"), this.unit + 1);
    gl.uniform2f(u("u_msize"), w, h);
    gl.uniform2f(u("u_size"), W, H);
    gl.uniform1f(u("u_tapsW"), this.tapsWidth);
    gl.uniform1f(u("u_K"), voteScale(w, h, W, H));
    gl.uniform1i(u("u_kind"), KINDS[kind]);
    gl.uniform1i(u("u_lines"), lines ? 1 : 0);
    gl.viewport(0, 0, W, H);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.useProgram(restore);
  }
}
