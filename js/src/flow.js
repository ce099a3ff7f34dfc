// Back-pressure for the capture loop: at most `maxInFlight` frames wait for a result. A frame
// leaves the window when its result or an error for its seq arrives, or after `timeoutMs`.
// Results come back in order, so a result for seq n also retires every older frame (the
// server drops pending frames it replaced with newer ones and never answers those).

/**
 * @typedef {object} InFlight
 * @property {number} seq
 * @property {number} t_capture  client clock (ms)
 * @property {number} t_sent  client clock (ms) when the frame was sent
 * @property {number} [bytes]  its size on the wire
 */

/**
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(handle: any) => void} clearTimeout
 */

export class FrameFlow {
  /**
   * @param {{maxInFlight?: number, timeoutMs?: number, onTimeout?: (f: InFlight) => void,
   *   onClear?: () => void, timers?: Timers}} [options]  onClear: every frame was forgotten
   */
  constructor({ maxInFlight = 2, timeoutMs = 2000, onTimeout, onClear, timers } = {}) {
    this.maxInFlight = maxInFlight;
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
    this.onClear = onClear;
    this.timers = timers || {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (handle) => clearTimeout(handle),
    };
    /** @type {Map<number, {frame: InFlight, timer: any}>} */
    this.pending = new Map();
    /** Frames that timed out: a late result still gets its round trip measured. @type {Map<number, InFlight>} */
    this.late = new Map();
  }

  /** Number of frames waiting for a result. */
  get size() {
    return this.pending.size;
  }

  /** Whether another frame may be sent now. */
  canSend() {
    return this.pending.size < this.maxInFlight;
  }

  /**
   * Record a sent frame and arm its timeout.
   * @param {InFlight} frame
   */
  begin(frame) {
    const timer = this.timers.setTimeout(() => {
      if (this.pending.get(frame.seq)?.frame !== frame) return;
      this.pending.delete(frame.seq);
      this.late.set(frame.seq, frame);
      if (this.late.size > 16) this.late.delete(this.late.keys().next().value);
      if (this.onTimeout) this.onTimeout(frame);
    }, this.timeoutMs);
    this.pending.set(frame.seq, { frame, timer });
  }

  /**
   * A result or error for `seq` arrived: retire it and every older frame.
   * @param {number} seq
   * @returns {InFlight | null}  the frame with that seq, if it was sent recently
   */
  settle(seq) {
    let found = this.late.get(seq) || null;
    this.late.delete(seq);
    for (const [s, entry] of this.pending) {
      if (s > seq) continue;
      this.timers.clearTimeout(entry.timer);
      this.pending.delete(s);
      if (s === seq) found = entry.frame;
    }
    return found;
  }

  /**
   * Take frames sent before `now - maxAgeMs` as lost (a hidden tab's throttled timers may not
   * have retired them); like a timeout, a late result still gets its round trip measured.
   * @param {number} now  client clock (ms), as `t_sent`
   * @param {number} maxAgeMs
   * @returns {number}  how many were dropped
   */
  expire(now, maxAgeMs) {
    let dropped = 0;
    for (const [seq, entry] of this.pending) {
      if (now - entry.frame.t_sent <= maxAgeMs) continue;
      this.timers.clearTimeout(entry.timer);
      this.pending.delete(seq);
      this.late.set(seq, entry.frame);
      dropped += 1;
    }
    while (this.late.size > 16) this.late.delete(this.late.keys().next().value);
    return dropped;
  }

  /** Forget every frame (camera stopped, transport reset). */
  clear() {
    for (const entry of this.pending.values()) this.timers.clearTimeout(entry.timer);
    this.pending.clear();
    this.late.clear();
    if (this.onClear) this.onClear();
  }
}

/** The `max_in_flight` setting when it is missing or invalid: sized to the link (window.js). */
export const DEFAULT_MAX_IN_FLIGHT = "auto";

/** The largest window a setting by hand may ask for. */
export const MAX_SET_IN_FLIGHT = 8;

/**
 * The `max_in_flight` setting: "auto" (the window follows the link's round trip and rate,
 * window.js) or a fixed window of 1 to 8 frames (anything else: "auto"). One in flight adds
 * no queueing anywhere; two overlap the round trip with the next frame's capture and upload
 * (enough on loopback); a long round trip needs about its bandwidth-delay product.
 * @param {any} value
 * @returns {number | "auto"}
 */
export function maxInFlight(value) {
  if (value === "auto") return "auto";
  const n = typeof value === "number" || typeof value === "string" ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= MAX_SET_IN_FLIGHT ? n : DEFAULT_MAX_IN_FLIGHT;
}

/**
 * Long side of the uploaded JPEG for the `upload_size` setting: the model's input size
 * ("model", the default: the browser downscales before encoding, design decision 2) or no
 * limit ("full": the camera's own resolution; the server downscales). While adaptive quality
 * has stepped the model's input down (`quality` from the latest result), "model" follows it.
 * @param {any} setting
 * @param {number} inputSize  the profile's input size from `ready`
 * @param {{input_size?: number, adapted?: boolean} | null} [quality]
 * @returns {number}
 */
export function uploadSide(setting, inputSize, quality = null) {
  if (setting === "full") return Infinity;
  const adapted = quality && quality.adapted ? Number(quality.input_size) : NaN;
  return adapted > 0 && adapted < inputSize ? adapted : inputSize;
}

/**
 * JPEG quality for the next frame: the `jpeg_quality` setting, or adaptive quality's lower
 * one while a thin link has stepped it down (`quality.jpeg_quality` from the latest result).
 * @param {any} setting  1..100
 * @param {{jpeg_quality?: number | null} | null} [quality]
 * @returns {number}
 */
export function jpegQuality(setting, quality = null) {
  const q = Number(setting) >= 1 && Number(setting) <= 100 ? Number(setting) : 80;
  const cap = quality ? Number(quality.jpeg_quality) : NaN;
  return cap >= 1 && cap < q ? cap : q;
}

/**
 * How long to wait before grabbing the next frame, so frames go out at most `maxFps` a
 * second (adaptive quality's frame rate cap); 0 when uncapped or already due.
 * @param {number | null | undefined} maxFps
 * @param {number | null} lastSentMs  performance.now() of the last frame sent, if any
 * @param {number} nowMs
 * @returns {number}
 */
export function paceDelay(maxFps, lastSentMs, nowMs) {
  const fps = Number(maxFps);
  if (!(fps > 0) || lastSentMs == null) return 0;
  return Math.max(0, lastSentMs + 1000 / fps - nowMs);
}

/**
 * The `feedback` object a frame header carries about the last rendered result.
 * @param {{seq: number, t_capture: number, server_ms?: number}} result  the result header
 * @param {{t_rendered: number, render_ms: number, decode_ms: number, t_sent?: number | null, t_received: number}} times
 *   client clock (ms): when it was first drawn, when its frame was sent and its result received
 *   (network_ms is left out when the frame's send time is unknown)
 */
export function makeFeedback(result, times) {
  const round = (/** @type {number} */ x) => Math.round(x * 10) / 10;
  /** @type {{seq: number, latency_ms: number, render_ms: number, decode_ms: number, network_ms?: number}} */
  const feedback = {
    seq: result.seq,
    latency_ms: round(times.t_rendered - result.t_capture),
    render_ms: round(times.render_ms),
    decode_ms: round(times.decode_ms),
  };
  if (times.t_sent != null) {
    feedback.network_ms = round(Math.max(0, times.t_received - times.t_sent - (Number(result.server_ms) || 0)));
  }
  return feedback;
}
