// The `background` setting's image on the wire: base64 JPEG text in the widget's state, never
// a binary buffer (Colab's widget manager drops the buffers of a widget's initial state), and
// small: a picked file is downscaled and recompressed to at most MAX_BACKGROUND_JPEG bytes, far
// below the ~1 MB a Colab message carries (segwidget/traits.py does the same in Python).

/** Largest JPEG of a background image the view sends (bytes, before base64). */
export const MAX_BACKGROUND_JPEG = 256 * 1024;
/** Longest side of a picked background image, before any further downscale. */
export const MAX_BACKGROUND_SIDE = 1920;

/**
 * The image bytes of a `background` setting: base64 text (this version's form) or a binary
 * buffer (DataView / Uint8Array / ArrayBuffer, older kernels); null for a colour.
 * @param {any} setting
 * @returns {Uint8Array | null}
 */
export function backgroundBytes(setting) {
  const image = setting && setting.image;
  if (!image) return null;
  if (typeof image === "string") {
    const bin = atob(image);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  if (ArrayBuffer.isView(image)) return new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
  return null;
}

/** @param {Uint8Array} bytes */
export function toBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + 0x8000)));
  }
  return btoa(bin);
}

/**
 * A picked image file as the `background` setting: a JPEG of at most `limit` bytes (quality
 * first, then the size), base64.
 * @param {Blob} file
 * @param {number} [limit]
 */
export async function pickedBackground(file, limit = MAX_BACKGROUND_JPEG) {
  const bitmap = await createImageBitmap(file);
  let s = Math.min(1, MAX_BACKGROUND_SIDE / Math.max(bitmap.width, bitmap.height));
  try {
    for (;;) {
      const w = Math.max(1, Math.round(bitmap.width * s));
      const h = Math.max(1, Math.round(bitmap.height * s));
      const canvas = new OffscreenCanvas(w, h);
      const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext("2d"));
      ctx.drawImage(bitmap, 0, 0, w, h);
      for (const quality of [0.9, 0.8, 0.7]) {
        const blob = await canvas.convertToBlob({ type: "image/jpeg", quality });
        if (blob.size <= limit || Math.max(w, h) <= 16) {
          const bytes = new Uint8Array(await blob.arrayBuffer());
          return { image: toBase64(bytes), encoding: "base64", mime: "image/jpeg", width: w, height: h };
        }
      }
      s *= 0.7;
    }
  } finally {
    bitmap.close();
  }
}
