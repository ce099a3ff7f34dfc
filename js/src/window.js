// The in-flight window of `max_in_flight: "auto"` (design decision 17): enough frames in
// flight to hold the camera's rate across the link's round trip (its bandwidth-delay
// product, in frames), and no more than the link carries without a queue.
//
// Pure maths on what each result says: when its frame went out and came back (client clock)
// and how long the kernel held it (`server_ms`: queue + decode + model + encode). The rest
// of the round trip is the link. Its floor (a low percentile of the link times over the last
// few seconds) is the propagation delay; the recent link time (median of the last second)
// above that floor is a queue somewhere on the way (an uplink that cannot carry the frames).
// So:
//
//   want  = ceil((floor + kernel) x rate - 1/4) + 1   frames, rate = min(camera, cap, 1 / kernel)
//   cap   one less per round trip while a queue stands (more than 2 frames and 30 ms), one
//         more per round trip without (under 1 frame, or a third of that time)
//   size  = min(want, cap), at least `floor` (2), at most MAX_WINDOW
//
// `limited` (the cap binds, and a queue made it shrink within LIMITED_MS) says the link
// carries fewer frames than the camera gives: the frame feedback reports it and adaptive
// quality (segwidget/adapt.py) steps down.

import { maxInFlight } from "./flow.js";

/** The most frames "auto" keeps in flight, whatever the link (30 a second across 350 ms;
 * a setting by hand goes up to 8). */
export const MAX_WINDOW = 12;

/** How long the link's floor is remembered (ms): a route change shows within this. */
export const FLOOR_MS = 5000;

/** The floor is this percentile of the link times, the recent time the median of RECENT_MS. */
const FLOOR_Q = 0.1;
const RECENT_MS = 1000;

/** Part of a frame in flight not worth one more in the window. */
const SLACK = 0.25;

/** Weight of each new sample in the smoothed link time and kernel time. */
const SMOOTH = 0.25;

/**
 * A queue stands when the recent link time is more than QUEUE_MS, or QUEUE_SHARE of the
 * floor (a long path jitters more), above the floor and holds more than QUEUED_MAX of the
 * frames in flight (as TCP Vegas: the window times the share of the trip spent queued; a
 * frame or two waiting on a thin uplink is what keeps it busy); the link has room below a
 * third of that time or under QUEUED_MIN frames.
 */
export const QUEUE_MS = 30;
const QUEUE_SHARE = 0.2;
const QUEUED_MAX = 1.5;
const QUEUED_MIN = 0.75;

/** How long after the cap last had to shrink the link still counts as the limit (ms). */
export const LIMITED_MS = 1500;

/**
 * @typedef {object} LinkReport  what the frame feedback carries about the link (numbers only)
 * @property {number} link_base_ms  the link's floor: round trip minus the kernel's time
 * @property {number} link_queue_ms  smoothed link time above that floor
 * @property {number} window  frames allowed in flight now
 * @property {number} window_want  frames the camera's rate needs across this round trip
 * @property {number} link_limited  1 when the link carries fewer frames than wanted
 * @property {number} up_kbps  bytes of answered frames over the last second, in kbit/s
 */

export class WindowController {
  /**
   * @param {{rate?: number, floor?: number, max?: number}} [options]
   *   rate: the camera's frames a second (the target); floor: the least window while no queue
   *   stands (2: the next frame's capture overlaps the current one's trip)
   */
  constructor({ rate = 30, floor = 2, max = MAX_WINDOW } = {}) {
    this.rate = rate;
    this.floor = floor;
    this.max = max;
    /** a frame-rate cap from adaptive quality (frames a second), or null */
    this.capFps = /** @type {number | null} */ (null);
    /** @type {{t: number, link: number}[]} link time samples within FLOOR_MS, for the floor */
    this.samples = [];
    /** @type {{t: number, bytes: number}[]} answered frames within the last second */
    this.answered = [];
    this.kernel = /** @type {number | null} */ (null); // smoothed kernel time (ms)
    this.cap = max;
    this.lastAdjust = -Infinity;
    this.lastShrink = -Infinity;
    this.lastSample = -Infinity;
  }

  /** The link's floor (ms): a low percentile (FLOOR_Q) of the link times within FLOOR_MS,
   * not the least one (one lucky sample); null before a sample. */
  get base() {
    if (!this.samples.length) return null;
    return quantile(this.samples.map((s) => s.link), FLOOR_Q);
  }

  /** The recent link time above the floor (ms): the median of the last RECENT_MS, so a busy
   * browser's or kernel's odd late answer is not taken for a queue. */
  get queue() {
    const base = this.base;
    if (base === null) return 0;
    const last = this.samples[this.samples.length - 1].t;
    const recent = this.samples.filter((s, i) => last - s.t <= RECENT_MS || i >= this.samples.length - 3);
    return Math.max(0, quantile(recent.map((s) => s.link), 0.5) - base);
  }

  /** The frames a second to hold: the camera's, adaptive quality's cap, the kernel's pace. */
  get target() {
    let rate = this.rate;
    if (this.capFps && this.capFps > 0) rate = Math.min(rate, this.capFps);
    if (this.kernel && this.kernel > 0) rate = Math.min(rate, 1000 / this.kernel);
    return rate;
  }

  /** Frames in flight that hold the target rate across the round trip. */
  get want() {
    const base = this.base;
    if (base === null) return this.floor;
    const trip = base + (this.kernel || 0);
    // Little's law: trip x rate frames are on their way on average; a quarter frame's slack
    // is not worth one more (a kernel slower than the camera: 1.05 frames, two suffice)
    return clamp(Math.ceil((trip * this.target) / 1000 - SLACK) + 1, this.floor, this.max);
  }

  /** Whether the link carries fewer frames than the camera gives (the cap binds). */
  get limited() {
    return this.cap < this.want && this.lastSample - this.lastShrink < LIMITED_MS;
  }

  /** Frames allowed in flight now: never under `floor` (what a fixed window of two gave:
   * on a loaded machine the browser's and the kernel's own delays look like a queue too). */
  get size() {
    return clamp(Math.min(this.want, this.cap), this.floor, this.max);
  }

  /** Queue (ms) above which it may stand. */
  threshold() {
    return Math.max(QUEUE_MS, QUEUE_SHARE * (this.base || 0));
  }

  /** Frames waiting in the queue: the window times the share of the trip spent queued. */
  get queued() {
    const queue = this.queue;
    const trip = (this.base || 0) + (this.kernel || 0) + queue;
    return trip > 0 ? (this.size * queue) / trip : 0;
  }

  /**
   * One answered frame.
   * @param {number} now  client clock (ms), when its result arrived
   * @param {{roundTripMs: number, serverMs?: number, bytes?: number}} sample
   *   roundTripMs: from sending the frame to its result; serverMs: the kernel's time in it
   */
  observe(now, { roundTripMs, serverMs = 0, bytes = 0 }) {
    if (!Number.isFinite(roundTripMs) || roundTripMs < 0) return;
    this.lastSample = now;
    const kernel = Math.max(0, Number(serverMs) || 0);
    const link = Math.max(0, roundTripMs - kernel);
    this.kernel = this.kernel === null ? kernel : this.kernel + SMOOTH * (kernel - this.kernel);
    this.samples.push({ t: now, link });
    while (this.samples.length > 1 && now - this.samples[0].t > FLOOR_MS) this.samples.shift();
    if (this.samples.length > 512) this.samples.shift();
    this.answered.push({ t: now, bytes: Math.max(0, Number(bytes) || 0) });
    while (this.answered.length && now - this.answered[0].t > 1000) this.answered.shift();
    // the cap moves once per round trip: the effect of the last move shows only after one
    const base = /** @type {number} */ (this.base);
    if (now - this.lastAdjust < base + (this.kernel || 0)) return;
    const queue = this.queue;
    const limit = this.threshold();
    const queued = this.queued;
    if (queue > limit && queued > QUEUED_MAX) {
      this.cap = Math.max(1, Math.min(this.cap, this.want) - 1);
      this.lastAdjust = this.lastShrink = now;
    } else if ((queue < limit / 3 || queued < QUEUED_MIN) && this.cap < this.max) {
      this.cap += 1;
      this.lastAdjust = now;
    }
  }

  /** Forget the link (transport reset, camera restarted); the settings stay. */
  reset() {
    this.samples = [];
    this.answered = [];
    this.kernel = null;
    this.cap = this.max;
    this.lastAdjust = this.lastShrink = this.lastSample = -Infinity;
  }

  /**
   * What the next frame's feedback says about the link.
   * @param {number} now  client clock (ms)
   * @returns {LinkReport | null}  null before the first answer
   */
  report(now) {
    const base = this.base;
    if (base === null) return null;
    const recent = this.answered.filter((a) => now - a.t <= 1000);
    const bytes = recent.reduce((sum, a) => sum + a.bytes, 0);
    const r1 = (/** @type {number} */ x) => Math.round(x * 10) / 10;
    return {
      link_base_ms: r1(base),
      link_queue_ms: r1(this.queue),
      window: this.size,
      window_want: this.want,
      link_limited: this.limited ? 1 : 0,
      up_kbps: r1((bytes * 8) / 1000),
    };
  }
}

/**
 * The session's side of the window: the camera's frame interval, a result's lesson (the
 * window follows it while `max_in_flight` is "auto") and the link report for the feedback.
 * @param {import("./session-state.js").Session} s
 */
export function followLink(s) {
  const frameMs = () => {
    const track = s.camera && s.camera.stream && s.camera.stream.getVideoTracks()[0];
    const fps = track && track.getSettings ? Number(track.getSettings().frameRate) : NaN;
    return fps > 0 ? 1000 / fps : 1000 / 30;
  };
  return {
    frameMs,
    /** @type {import("./session-state.js").Session["answered"]} */
    answered: (sent, msg, t_received) => {
      // a frame sent before the link came back (resume.js) waited for it: not a link sample
      if (sent && sent.t_sent >= s.state.staleBefore) {
        const serverMs = Number(msg.server_ms) || 0;
        s.window.observe(t_received, { roundTripMs: t_received - sent.t_sent, serverMs, bytes: sent.bytes || 0 });
      }
      const q = s.state.quality;
      s.window.capFps = q && Number(q.max_fps) > 0 ? Number(q.max_fps) : null;
      s.window.rate = 1000 / frameMs();
      if (maxInFlight(s.store.get("max_in_flight")) === "auto") s.flow.maxInFlight = s.window.size;
    },
    linkReport: (/** @type {number} */ now) => s.window.report(now) || {},
  };
}

/**
 * @param {number[]} xs  not empty
 * @param {number} q  0..1
 */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

/**
 * @param {number} x
 * @param {number} lo
 * @param {number} hi
 */
function clamp(x, lo, hi) {
  return Math.max(lo, Math.min(hi, x));
}
