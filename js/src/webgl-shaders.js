// The WebGL renderer's shaders (GLSL ES 1.00: WebGL 1 and 2) and how a program is built
// (buildProgram). The fragment shader is renderer.js's per-pixel rules with edge-mix.js's
// anti-aliased edges, evaluated per display pixel on the GPU:
//   u_video: the frame (RGBA); u_field: the edge field at display size (edges.js; RGBA =
//   k1, k2, t, line), or the confidence view's heat level in R; u_lut: 256 x 1 RGBA palette
//   with the class filter in alpha; u_heat: 256 x 1 heat colours. The field is rendered
//   once per result (webgl-field.js, from the mirrored planes), so only the video is flipped
//   here.

export const VERTEX_SHADER = `
attribute vec2 a_pos;
void main() { gl_Position = vec4(a_pos, 0.0, 1.0); }
`;

/** Mode numbers of the fragment shader's u_mode. */
export const MODE_IDS = { filled: 0, contour: 1, "side-by-side": 2, blend: 3, confidence: 4 };

export const FRAGMENT_SHADER = `
precision highp float;
uniform sampler2D u_video;
uniform sampler2D u_field;
uniform sampler2D u_lut;
uniform sampler2D u_heat;
uniform vec2 u_size;      // W, H: one view (the canvas is 2W wide in side-by-side)
uniform float u_opacity;
uniform int u_mode;
uniform bool u_mirror;

vec4 lutAt(float k) { return texture2D(u_lut, vec2((k + 0.5) / 256.0, 0.5)); }

vec3 mixRound(vec3 v, vec3 c, float a) { return floor(v * (1.0 - a) + c * a + 0.5); }

// floor((t * f1 + (255 - t) * f2 + 127) / 255), as edge-mix.js
vec3 mixEdge(float t, vec3 f1, vec3 f2) { return floor((t * f1 + (255.0 - t) * f2 + 127.5) / 255.0); }

vec3 blendHsv(vec3 v, vec3 c, float a) {
  float V = max(v.r, max(v.g, v.b));
  float cmax = max(c.r, max(c.g, c.b));
  vec3 t = cmax > 0.0 ? c * V / cmax : vec3(V);
  vec3 m = v * (1.0 - a) + t * a;
  float M = max(m.r, max(m.g, m.b));
  return M > 0.0 ? floor(m * V / M + 0.5) : vec3(0.0);
}

// the mode's colour of a pixel of class k over video colour v (v where k is hidden)
vec3 classColour(float k, vec3 v) {
  vec4 e = lutAt(k);
  if (e.a < 0.5) return v;
  vec3 c = floor(e.rgb * 255.0 + 0.5);
  if (u_mode == 2) return c;
  if (u_mode == 3) return blendHsv(v, c, u_opacity);
  return mixRound(v, c, u_opacity);
}

void main() {
  // display pixel, top-left origin; side-by-side's right half maps onto the same view
  vec2 p = vec2(floor(gl_FragCoord.x), floor(u_size.y - gl_FragCoord.y));
  bool right = u_mode == 2 && p.x >= u_size.x;
  if (right) p.x -= u_size.x;
  vec2 vp = u_mirror ? vec2(u_size.x - 1.0 - p.x, p.y) : p;
  vec3 v = floor(texture2D(u_video, (vp + 0.5) / u_size).rgb * 255.0 + 0.5);
  vec4 f = floor(texture2D(u_field, (p + 0.5) / u_size) * 255.0 + 0.5);
  vec3 outc = v;
  if (u_mode == 4) {
    vec3 heat = floor(texture2D(u_heat, vec2((f.r + 0.5) / 256.0, 0.5)).rgb * 255.0 + 0.5);
    outc = mixRound(v, heat, u_opacity);
  } else if (u_mode == 1) {
    if (f.a > 0.0) outc = mixEdge(f.a, classColour(f.r, v), v);
  } else if (u_mode != 2 || right) {
    outc = classColour(f.r, v);
    if (f.b < 255.0) outc = mixEdge(f.b, outc, classColour(f.g, v));
  }
  gl_FragColor = vec4(outc / 255.0, 1.0);
}
`;

/**
 * A linked program of `fragment` over VERTEX_SHADER's quad, with its position at attribute 0
 * (the renderer and its field pass draw the same quad).
 * @param {WebGLRenderingContext} gl
 * @param {string} fragment
 * @param {string} what  named in errors
 * @returns {WebGLProgram}
 */
export function buildProgram(gl, fragment, what) {
  const prog = /** @type {WebGLProgram} */ (gl.createProgram());
  for (const [type, source] of /** @type {[number, string][]} */ ([
    [gl.VERTEX_SHADER, VERTEX_SHADER],
    [gl.FRAGMENT_SHADER, fragment],
  ])) {
    const sh = /** @type {WebGLShader} */ (gl.createShader(type));
    gl.shaderSource(sh, source);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(`segwidget: ${what} shader: ${gl.getShaderInfoLog(sh)}`);
    gl.attachShader(prog, sh);
  }
  gl.bindAttribLocation(prog, 0, "a_pos");
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`segwidget: ${what} shader link: ${gl.getProgramInfoLog(prog)}`);
  return prog;
}
