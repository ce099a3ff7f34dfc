// Raw frames for a kernel or server on the same machine (loopback): RGBA from a canvas to
// I420 (BT.601, limited range, what OpenCV's COLOR_YUV2RGB_I420 decodes), no JPEG encode on
// the browser's side and no JPEG decode on Python's. 115 KB at 320x240: cheap on loopback,
// too much for a remote link, which keeps JPEG.

/** Hosts that are this machine. */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/**
 * The frame encoding to send: "jpeg" or "i420". "auto" picks i420 when the page was loaded
 * from this machine (loopback), where bandwidth is free and encode time is not.
 * @param {any} setting  "auto" | "jpeg" | "i420"
 * @param {string} [hostname]  location.hostname of the page
 * @returns {"jpeg" | "i420"}
 */
export function frameEncoding(setting, hostname = globalThis.location ? globalThis.location.hostname : "") {
  if (setting === "jpeg" || setting === "i420") return setting;
  return LOOPBACK.has(String(hostname).toLowerCase()) ? "i420" : "jpeg";
}

/**
 * Even dimensions for an I420 frame (chroma is subsampled 2x2): round down, at least 2.
 * @param {number} n
 */
export const evenSide = (n) => Math.max(2, n - (n % 2));

/**
 * RGBA pixels (a canvas's ImageData) to I420: the Y plane, then U and V at half resolution
 * (each the mean of a 2x2 block).
 * @param {Uint8ClampedArray | Uint8Array} rgba  width * height * 4 bytes
 * @param {number} width  even
 * @param {number} height  even
 * @param {Uint8Array} [out]  a buffer to reuse, width * height * 3 / 2 bytes
 * @returns {Uint8Array}
 */
export function rgbaToI420(rgba, width, height, out) {
  const n = width * height;
  const size = (n * 3) / 2;
  const buf = out && out.length === size ? out : new Uint8Array(size);
  const cw = width >> 1;
  const uOff = n;
  const vOff = n + (n >> 2);
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let rs = 0;
      let gs = 0;
      let bs = 0;
      for (let dy = 0; dy < 2; dy++) {
        const row = (y + dy) * width;
        for (let dx = 0; dx < 2; dx++) {
          const p = row + x + dx;
          const i = p * 4;
          const r = rgba[i];
          const g = rgba[i + 1];
          const b = rgba[i + 2];
          buf[p] = (66 * r + 129 * g + 25 * b + 128 + 4096) >> 8; // 16 + 0.257 R + ...
          rs += r;
          gs += g;
          bs += b;
        }
      }
      const c = (y >> 1) * cw + (x >> 1);
      // means of the block (sums / 4) folded into the fixed-point coefficients
      buf[uOff + c] = (-38 * rs - 74 * gs + 112 * bs + 512 + 131072) >> 10;
      buf[vOff + c] = (112 * rs - 94 * gs - 18 * bs + 512 + 131072) >> 10;
    }
  }
  return buf;
}
