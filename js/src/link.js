// The view's link to whoever segments its frames (the kernel, the server), as the view can
// tell it (docs/RELIABILITY.md): answers stop coming for a while (a kernel busy in another
// cell, a dropped websocket) and come back, or the channel is gone for good (the kernel
// restarted under the widget).

/** A frame unanswered for this long (ms), or WAIT_FACTOR times the usual round trip when
 * that is longer (up to MAX_WAIT_MS): the view says it is waiting for the kernel. */
export const WAIT_MS = 3000;

/** The longest a frame goes unanswered before the view says so, however slow the kernel. */
export const MAX_WAIT_MS = 10000;

/** How many usual round trips a slow kernel gets before the view calls it waiting (a kernel
 * that always takes 4 s a frame is slow, not away: its results are drawn, never dropped). */
export const WAIT_FACTOR = 3;

/** Weight of each new round trip in the usual one (an exponential moving average). */
const ROUND_TRIP_WEIGHT = 0.3;

/** While waiting, one frame at a time goes out, at most this often (ms): the first answer
 * says the kernel is back, without a queue of stale frames building up behind it. */
export const PROBE_MS = 2000;

/**
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(handle: any) => void} clearTimeout
 */

const REAL_TIMERS = /** @type {Timers} */ ({
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
});

/**
 * Watches for answers: when a frame has waited `waitFor` with nothing at all heard from the
 * other side while the view streams, it is `waiting` (onWaiting); the next message heard
 * ends that (onResumed).
 */
export class ReplyWatch {
  /**
   * @param {{onWaiting: () => void, onResumed: () => void, active: () => boolean,
   *   outstanding: () => boolean, waitMs?: number, timers?: Timers}} options
   *   active: the view streams now (a stopped camera or a hidden tab is not waiting);
   *   outstanding: frames wait for an answer
   */
  constructor({ onWaiting, onResumed, active, outstanding, waitMs = WAIT_MS, timers = REAL_TIMERS }) {
    Object.assign(this, { onWaiting, onResumed, active, outstanding, waitMs, timers });
    this.waiting = false;
    /** @type {any} */
    this.timer = null;
    /** the usual round trip of a frame (ms), null before the first @type {number | null} */
    this.usual = null;
  }

  /** How long a frame may go unanswered before the view is waiting (ms). */
  get waitFor() {
    return Math.min(MAX_WAIT_MS, Math.max(this.waitMs, WAIT_FACTOR * (this.usual || 0)));
  }

  /**
   * A result came back `ms` after its frame was sent (stale ones too: a kernel that is always
   * slow must not be taken for one that is away).
   * @param {number} ms
   */
  roundTrip(ms) {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.usual = this.usual === null ? ms : this.usual + ROUND_TRIP_WEIGHT * (ms - this.usual);
  }

  arm() {
    if (this.timer !== null || this.waiting) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (!this.active()) return;
      this.waiting = true;
      this.onWaiting();
    }, this.waitFor);
  }

  /** A frame went out: the clock runs from the oldest unanswered one. */
  sent() {
    this.arm();
  }

  /** Something came from the other side: it is alive. */
  heard() {
    this.disarm();
    if (this.waiting) {
      this.waiting = false;
      this.onResumed();
    }
    if (this.outstanding()) this.arm();
  }

  disarm() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Forget everything (camera stopped, transport reset or lost); no callback. */
  clear() {
    this.disarm();
    this.waiting = false;
  }
}

/**
 * Whether the capture loop may send another frame: the in-flight window has room, and while
 * waiting for the kernel, no frame is in flight (one probe at a time).
 * @param {{waiting: boolean}} watch
 * @param {{size: number, canSend: () => boolean}} flow
 */
export function roomToSend(watch, flow) {
  return watch.waiting ? flow.size === 0 : flow.canSend();
}

/**
 * The frame-rate cap of the capture loop: adaptive quality's, or the probe rate while
 * waiting for the kernel.
 * @param {{waiting: boolean}} watch
 * @param {{max_fps?: number | null} | null} quality  adaptive quality from the latest result
 * @returns {number | null | undefined}
 */
export function sendCap(watch, quality) {
  return watch.waiting ? 1000 / PROBE_MS : quality && quality.max_fps;
}
