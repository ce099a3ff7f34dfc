// Wire format shared by both transports; the browser's twin of segwidget/protocol.py.
//
// A message is a JSON header (an object with a string "type") plus zero or more binary
// buffers. On a WebSocket a message without buffers is a text frame; a message with buffers
// is one binary frame:
//
//   [u32 big-endian header length][UTF-8 JSON header][buffer 0][buffer 1]...
//
// and the header then carries "sizes": [len0, len1, ...]. See docs/API_REFERENCE.md.

/** Largest JSON header a binary frame may declare (same bound as protocol.py). */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Mask encodings the browser understands. */
export const MASK_ENCODINGS = /** @type {const} */ (["deflate", "raw", "png"]);

/**
 * @typedef {{type: string, [key: string]: any}} Header
 * @typedef {{header: Header, buffers: Uint8Array[]}} Message
 */

/** A malformed message; `code` is one of the protocol's error codes. */
export class ProtocolError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * View any binary buffer as a Uint8Array without copying: DataView (JupyterLab comm
 * buffers), Uint8Array or other typed arrays (Colab), ArrayBuffer (WebSocket, fetch).
 * @param {ArrayBuffer | ArrayBufferView | SharedArrayBuffer} buf
 * @returns {Uint8Array}
 */
export function toUint8Array(buf) {
  if (buf instanceof Uint8Array) return buf;
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (typeof SharedArrayBuffer !== "undefined" && buf instanceof SharedArrayBuffer) {
    return new Uint8Array(buf);
  }
  throw new TypeError(`expected a binary buffer, got ${Object.prototype.toString.call(buf)}`);
}

/**
 * Encode one message for a WebSocket: a string (text frame) when there are no buffers,
 * else one Uint8Array (binary frame) whose header carries "sizes".
 * @param {Header} header
 * @param {ArrayLike<any>[]} [buffers]
 * @returns {string | Uint8Array}
 */
export function packWs(header, buffers = []) {
  if (!buffers.length) return JSON.stringify(header);
  const parts = buffers.map((b) => toUint8Array(/** @type {any} */ (b)));
  const head = encoder.encode(JSON.stringify({ ...header, sizes: parts.map((p) => p.byteLength) }));
  const total = 4 + head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.byteLength, false);
  out.set(head, 4);
  let at = 4 + head.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Decode one WebSocket message (string, ArrayBuffer or a view) into header and buffers.
 * The buffers are views into `data` (no copy). Throws ProtocolError when malformed.
 * @param {string | ArrayBuffer | ArrayBufferView} data
 * @returns {Message}
 */
export function unpackWs(data) {
  if (typeof data === "string") return { header: parseHeader(data), buffers: [] };
  const bytes = toUint8Array(data);
  if (bytes.byteLength < 4) {
    throw new ProtocolError("BAD_FRAME", "binary message shorter than its 4-byte header length");
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (n > MAX_HEADER_BYTES || 4 + n > bytes.byteLength) {
    throw new ProtocolError("BAD_FRAME", `binary message declares a ${n}-byte header it lacks`);
  }
  let text;
  try {
    text = decoder.decode(bytes.subarray(4, 4 + n));
  } catch (err) {
    throw new ProtocolError("BAD_JSON", `message header is not UTF-8: ${err}`);
  }
  const header = parseHeader(text);
  const body = bytes.subarray(4 + n);
  const sizes = "sizes" in header ? header.sizes : [body.byteLength];
  delete header.sizes;
  if (
    !Array.isArray(sizes) ||
    !sizes.every((s) => Number.isInteger(s) && s >= 0) ||
    sizes.reduce((a, s) => a + s, 0) !== body.byteLength
  ) {
    throw new ProtocolError("BAD_FRAME", "binary message 'sizes' do not match its payload");
  }
  const buffers = [];
  let at = 0;
  for (const s of sizes) {
    buffers.push(body.subarray(at, at + s));
    at += s;
  }
  return { header, buffers };
}

/**
 * @param {string} text
 * @returns {Header}
 */
function parseHeader(text) {
  let header;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError("BAD_JSON", `message is not valid JSON: ${err}`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header) || typeof header.type !== "string") {
    throw new ProtocolError("BAD_MESSAGE", "message must be a JSON object with a string 'type'");
  }
  return header;
}

/**
 * Inflate a zlib stream (what Python's zlib.compress writes) with DecompressionStream.
 * With `limit`, stops reading once more than `limit` bytes came out (the caller then sees a
 * size mismatch without the whole stream being inflated).
 * @param {Uint8Array} bytes
 * @param {number} [limit]
 * @returns {Promise<Uint8Array>}
 */
export async function inflate(bytes, limit = Infinity) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  const reader = stream.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      break;
    }
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Decode a result mask into uint8 class indices, row-major, height x width.
 * "deflate" and "raw" work anywhere; "png" needs createImageBitmap and OffscreenCanvas
 * (a browser). Inverse of protocol.py's encode_mask. A mask that does not decode to
 * width x height rejects with ProtocolError BAD_FRAME; an unknown encoding with an Error.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @param {number} width
 * @param {number} height
 * @param {string} [encoding]
 * @returns {Promise<Uint8Array>}
 */
export async function decodeMask(data, width, height, encoding = "deflate") {
  const bytes = toUint8Array(data);
  const expected = width * height;
  let raw;
  if (encoding === "deflate") {
    try {
      raw = await inflate(bytes, expected);
    } catch (err) {
      throw new ProtocolError("BAD_FRAME", `mask is not a zlib stream: ${err}`);
    }
  } else if (encoding === "raw") raw = bytes;
  else if (encoding === "png") {
    try {
      raw = await decodePngMask(bytes, width, height);
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError("BAD_FRAME", `mask is not a PNG: ${err}`);
    }
  } else {
    throw new Error(`unknown mask encoding ${JSON.stringify(encoding)}; expected one of ${MASK_ENCODINGS.join(", ")}`);
  }
  if (raw.byteLength !== expected) {
    throw new ProtocolError("BAD_FRAME", `mask has ${raw.byteLength} bytes, expected ${width}x${height}`);
  }
  return raw;
}

/**
 * A grayscale PNG decodes to RGBA with R = G = B = the class index; keep R.
 * @param {Uint8Array} bytes
 * @param {number} width
 * @param {number} height
 * @returns {Promise<Uint8Array>}
 */
async function decodePngMask(bytes, width, height) {
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  try {
    if (bitmap.width !== width || bitmap.height !== height) {
      throw new ProtocolError("BAD_FRAME", `mask PNG is ${bitmap.width}x${bitmap.height}, expected ${width}x${height}`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (
      canvas.getContext("2d", { willReadFrequently: true })
    );
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const out = new Uint8Array(width * height);
    for (let i = 0, j = 0; i < out.length; i++, j += 4) out[i] = rgba[j];
    return out;
  } finally {
    bitmap.close();
  }
}

/** Milliseconds on this client's clock, as used for the protocol's `t_*` fields. */
export function clientNow() {
  return performance.timeOrigin + performance.now();
}
