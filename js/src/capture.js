// Webcam capture: getUserMedia with a device picker, and frames downscaled to the profile's
// input size: JPEG, or raw I420 when the kernel or server is on this machine (pixels.js),
// taken from the camera's own planes where the browser allows (frame-grab.js).

import { FrameGrabber } from "./frame-grab.js";
import { evenSide, rgbaToI420 } from "./pixels.js";
import { clientNow } from "./protocol.js";
import { fitLongSide, sizedCanvas } from "./util.js";

/**
 * An error to show and to report in a `client_error` message.
 * @typedef {{code: string, message: string, recoverable: boolean}} ClientError
 */

/**
 * @typedef {object} Grab  one encoded frame
 * @property {Uint8Array} bytes  JPEG or I420
 * @property {"jpeg" | "i420"} encoding
 * @property {"video-frame" | "canvas"} via  the camera's planes (frame-grab.js) or a canvas
 * @property {number} width  of the image
 * @property {number} height
 * @property {number} t_capture  client clock (ms) when the frame was grabbed
 * @property {number} capture_ms  drawing the video frame at the target size (or copying the
 *   camera's planes)
 * @property {number} encode_ms  JPEG encoding, or reading the pixels back and converting them
 *   (or scaling the planes)
 * @property {Promise<ImageBitmap | null>} [held]  the frame at the camera's size, when asked
 */

/**
 * Why this page cannot use a camera at all, or null when it may try.
 * @param {{isSecureContext?: boolean, location?: {protocol: string, hostname: string}, navigator?: any}} [env]
 * @returns {ClientError | null}
 */
export function cameraSupportError(env = /** @type {any} */ (globalThis)) {
  if (env.isSecureContext === false) {
    const where = env.location ? `${env.location.protocol}//${env.location.hostname}` : "http";
    return {
      code: "INSECURE_CONTEXT",
      message:
        `Browsers only allow camera access on secure pages, and this one is served from ${where} ` +
        "(plain http on a host that is not localhost). Open it over https (for example an ngrok " +
        "https URL), through localhost (e.g. an SSH tunnel), or use a kernel-side source " +
        "such as SegWidget(source=0).",
      recoverable: false,
    };
  }
  if (!env.navigator || !env.navigator.mediaDevices || !env.navigator.mediaDevices.getUserMedia) {
    return {
      code: "NO_CAMERA",
      message:
        "This browser gives the page no camera access (navigator.mediaDevices is missing; VS Code " +
        "notebooks block it). Use a kernel-side source such as SegWidget(source=0).",
      recoverable: false,
    };
  }
  return null;
}

/**
 * Map a getUserMedia / track error to a protocol error.
 * @param {any} err
 * @returns {ClientError}
 */
export function cameraError(err) {
  const name = err && err.name;
  const detail = err && err.message ? ` (${err.message})` : "";
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return {
        code: "CAMERA_DENIED",
        message:
          "Camera permission was denied. Allow the camera for this site in the browser's " +
          "address bar or site settings, then press Start.",
        recoverable: false,
      };
    case "NotFoundError":
    case "DevicesNotFoundError":
      return { code: "NO_CAMERA", message: "No camera was found on this device.", recoverable: false };
    case "OverconstrainedError":
    case "ConstraintNotSatisfiedError":
      return {
        code: "NO_CAMERA",
        message: `No camera matches the request${detail}; pick another camera.`,
        recoverable: false,
      };
    default:
      return {
        code: "CAMERA_CLOSED",
        message:
          name === "NotReadableError" || name === "TrackStartError"
            ? "The camera could not be started; another application may be using it."
            : `The camera stopped${detail}.`,
        recoverable: true,
      };
  }
}

/** The camera stopped delivering frames (track `ended`). */
export const CAMERA_CLOSED = /** @type {ClientError} */ ({
  code: "CAMERA_CLOSED",
  message: "The camera stopped delivering frames (unplugged or taken by another application).",
  recoverable: true,
});

export class Camera {
  /**
   * @param {HTMLVideoElement} video  where the stream plays (may stay hidden)
   * @param {{onEnded?: (err: ClientError) => void}} [options]
   */
  constructor(video, { onEnded } = {}) {
    this.video = video;
    this.video.muted = true;
    this.video.playsInline = true;
    this.onEnded = onEnded;
    /** @type {MediaStream | null} */
    this.stream = null;
    this.generation = 0;
    /** One canvas per encoding: raw reads want a CPU-backed one (willReadFrequently).
     * @type {Record<string, {canvas: HTMLCanvasElement | OffscreenCanvas, ctx: any}>} */
    this.surfaces = {};
    /** Raw frames straight from the camera's planes where it can (frame-grab.js). */
    this.frames = new FrameGrabber();
  }

  /** True while a stream is playing. */
  get active() {
    return !!this.stream && this.video.videoWidth > 0;
  }

  /** @returns {Promise<{deviceId: string, label: string}[]>} video inputs */
  async listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
    const all = await navigator.mediaDevices.enumerateDevices();
    return all
      .filter((d) => d.kind === "videoinput")
      .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Camera ${i + 1}` }));
  }

  /**
   * Start (or restart) the camera. Throws a ClientError-shaped object on failure.
   * @param {{deviceId?: string | null, width?: number, height?: number}} [options]
   */
  async start({ deviceId, width = 640, height = 480 } = {}) {
    const unsupported = cameraSupportError();
    if (unsupported) throw unsupported;
    this.stop();
    const generation = ++this.generation;
    /** @type {MediaTrackConstraints} */
    const video = { width: { ideal: width }, height: { ideal: height } };
    if (deviceId) video.deviceId = { exact: deviceId };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    } catch (err) {
      throw cameraError(err);
    }
    if (generation !== this.generation) {
      // stop() was called while the permission prompt was open.
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.stream = stream;
    for (const track of stream.getVideoTracks()) {
      track.addEventListener("ended", () => {
        if (this.stream === stream) {
          this.stop();
          if (this.onEnded) this.onEnded(CAMERA_CLOSED);
        }
      });
    }
    this.video.srcObject = stream;
    try {
      await this.video.play();
    } catch (err) {
      if (generation === this.generation) {
        this.stop();
        throw cameraError(err);
      }
    }
  }

  /** Stop every track and detach the stream. */
  stop() {
    this.generation++;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  /**
   * Resolve when the video has a new frame, or after maxWaitMs.
   * @param {number} [maxWaitMs]
   * @returns {Promise<void>}
   */
  nextFrame(maxWaitMs = 100) {
    const v = /** @type {any} */ (this.video);
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(finish, maxWaitMs);
      if (typeof v.requestVideoFrameCallback === "function") v.requestVideoFrameCallback(finish);
      else requestAnimationFrame(finish);
    });
  }

  /**
   * Grab the current video frame, downscaled so its long side is at most maxSide, as JPEG or
   * (loopback) raw I420 with even sides.
   * @param {number} maxSide  the profile's input_size
   * @param {number} quality  JPEG quality, 1..100
   * @param {"jpeg" | "i420"} [encoding]
   * @param {boolean} [hold]  also copy the frame at display size (`held`) for the aligned
   *   display (aligned.js): taken in the same task as the grab, so the same video frame
   * @returns {Promise<Grab | null>}  null when the camera is not playing
   */
  async grab(maxSide, quality, encoding = "jpeg", hold = false) {
    if (!this.active) return null;
    const t0 = performance.now();
    const t_capture = clientNow();
    const held = hold && typeof createImageBitmap === "function" ? createImageBitmap(this.video).catch(() => null) : undefined;
    let { width, height } = fitLongSide(this.video.videoWidth, this.video.videoHeight, maxSide);
    if (encoding === "i420") {
      [width, height] = [evenSide(width), evenSide(height)];
      const raw = await this.frames.grab(this.video, width, height);
      if (raw) {
        const ms = performance.now() - t0;
        const encode_ms = ms - raw.copy_ms;
        return { bytes: raw.bytes, encoding, via: "video-frame", width, height, t_capture, capture_ms: raw.copy_ms, encode_ms, held };
      }
    }
    const { canvas, ctx } = this.surface(encoding, width, height);
    ctx.drawImage(this.video, 0, 0, width, height);
    const t1 = performance.now();
    let bytes;
    if (encoding === "i420") {
      bytes = rgbaToI420(ctx.getImageData(0, 0, width, height).data, width, height);
    } else {
      const q = Math.min(100, Math.max(1, Number(quality) || 80)) / 100;
      const blob = await encodeJpeg(canvas, q);
      bytes = new Uint8Array(await blob.arrayBuffer());
    }
    const t2 = performance.now();
    return { bytes, encoding, via: "canvas", width, height, t_capture, capture_ms: t1 - t0, encode_ms: t2 - t1, held };
  }

  /**
   * @param {string} encoding
   * @param {number} width
   * @param {number} height
   */
  surface(encoding, width, height) {
    let s = this.surfaces[encoding];
    if (!s) {
      const canvas = sizedCanvas(null, width, height);
      const ctx = canvas.getContext("2d", encoding === "i420" ? { willReadFrequently: true } : undefined);
      s = this.surfaces[encoding] = { canvas, ctx };
    }
    sizedCanvas(s.canvas, width, height);
    return s;
  }
}

/**
 * @param {HTMLCanvasElement | OffscreenCanvas} canvas
 * @param {number} quality  0..1
 * @returns {Promise<Blob>}
 */
function encodeJpeg(canvas, quality) {
  if ("convertToBlob" in canvas) return canvas.convertToBlob({ type: "image/jpeg", quality });
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("JPEG encoding failed"))), "image/jpeg", quality),
  );
}
