// The WebGL renderer's shaders (GLSL ES 1.00: WebGL 1 and 2). The fragment shader is
// renderer.js's per-pixel rules, evaluated per display pixel on the GPU:
//   u_video: the frame (RGBA); u_mask: class indices (LUMINANCE, value k / 255);
//   u_lut: 256 x 1 RGBA palette with the class filter in alpha; u_heat: 256 x 1 heat colours;
//   u_conf: the raw person alpha (confidence view). Nearest sampling of the mask uses
//   renderer.js's integer formula (pixel centres aligned), computed in float with a tiny
//   offset so exact ties break upwards as the integer maths does.

export const VERTEX_SHADER = `
attribute vec2 a_pos;
void main() { gl_Position = vec4(a_pos, 0.0, 1.0); }
`;

/** Mode numbers of the fragment shader's u_mode. */
export const MODE_IDS = { filled: 0, contour: 1, "side-by-side": 2, blend: 3, confidence: 4 };

export const FRAGMENT_SHADER = `
precision highp float;
uniform sampler2D u_video;
uniform sampler2D u_mask;
uniform sampler2D u_lut;
uniform sampler2D u_heat;
uniform sampler2D u_conf;
uniform vec2 u_size;      // W, H: one view (the canvas is 2W wide in side-by-side)
uniform vec2 u_mask_size; // mw, mh
uniform vec2 u_conf_size;
uniform float u_opacity;
uniform int u_mode;
uniform bool u_mirror;

// the texel of a plane (size n) under display pixel p (integer, top-left origin); mirror
// flips the plane itself, as renderer.js and numpy do before upsampling
float planeAt(sampler2D plane, vec2 n, vec2 p) {
  vec2 s = floor((p + 0.5) * n / u_size + 1e-4);
  if (u_mirror) s.x = n.x - 1.0 - s.x;
  return floor(texture2D(plane, (s + 0.5) / n).r * 255.0 + 0.5);
}

float classAt(vec2 p) { return planeAt(u_mask, u_mask_size, p); }

vec4 lutAt(float k) { return texture2D(u_lut, vec2((k + 0.5) / 256.0, 0.5)); }

vec3 mixRound(vec3 v, vec3 c, float a) { return floor(v * (1.0 - a) + c * a + 0.5); }

vec3 blendHsv(vec3 v, vec3 c, float a) {
  float V = max(v.r, max(v.g, v.b));
  float cmax = max(c.r, max(c.g, c.b));
  vec3 t = cmax > 0.0 ? c * V / cmax : vec3(V);
  vec3 m = v * (1.0 - a) + t * a;
  float M = max(m.r, max(m.g, m.b));
  return M > 0.0 ? floor(m * V / M + 0.5) : vec3(0.0);
}

void main() {
  // display pixel, top-left origin; side-by-side's right half maps onto the same view
  vec2 p = vec2(floor(gl_FragCoord.x), floor(u_size.y - gl_FragCoord.y));
  bool right = u_mode == 2 && p.x >= u_size.x;
  if (right) p.x -= u_size.x;
  vec2 vp = u_mirror ? vec2(u_size.x - 1.0 - p.x, p.y) : p;
  vec3 v = floor(texture2D(u_video, (vp + 0.5) / u_size).rgb * 255.0 + 0.5);
  vec3 outc = v;
  if (u_mode == 4) {
    float al = planeAt(u_conf, u_conf_size, p);
    vec3 heat = floor(texture2D(u_heat, vec2((al + 0.5) / 256.0, 0.5)).rgb * 255.0 + 0.5);
    outc = mixRound(v, heat, u_opacity);
  } else {
    float k = classAt(p);
    vec4 e = lutAt(k);
    vec3 c = floor(e.rgb * 255.0 + 0.5);
    if (e.a > 0.5) {
      if (u_mode == 0) {
        outc = mixRound(v, c, u_opacity);
      } else if (u_mode == 1) {
        bool edge = (p.x > 0.0 && classAt(p - vec2(1.0, 0.0)) != k) ||
          (p.x < u_size.x - 1.0 && classAt(p + vec2(1.0, 0.0)) != k) ||
          (p.y > 0.0 && classAt(p - vec2(0.0, 1.0)) != k) ||
          (p.y < u_size.y - 1.0 && classAt(p + vec2(0.0, 1.0)) != k);
        if (edge) outc = mixRound(v, c, u_opacity);
      } else if (u_mode == 2) {
        if (right) outc = c;
      } else if (u_mode == 3) {
        outc = blendHsv(v, c, u_opacity);
      }
    }
  }
  gl_FragColor = vec4(outc / 255.0, 1.0);
}
`;
