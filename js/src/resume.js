// Faults the view recovers from by itself (docs/RELIABILITY.md): the tab hidden and shown
// again, and a browser camera that stops delivering (unplugged, taken by another app). The
// kernel's answers stopping and coming back is link.js; both resume with resumeSending.

/** A frame in flight for longer than this when the tab comes back is taken as lost. */
export const STALE_MS = 3000;

/** The longest wait between two tries to get the camera back. */
export const MAX_RETRY_MS = 10000;

/**
 * Wait before try number `attempt` (0, 1, ...) to open the camera again: 1, 2, 4, 8, 10, 10 s...
 * @param {number} attempt
 * @returns {number} ms
 */
export function retryDelay(attempt) {
  return Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.max(0, attempt));
}

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
 * Sending resumes after a pause (the tab shown again, the kernel answering again): frames in
 * flight for over `maxAgeMs` are taken as lost, no result for a frame captured before
 * `now - maxAgeMs` is drawn (it would show a moment long gone: handlers.js reads
 * `staleBefore`), and the next frame goes out at once.
 * @param {{staleBefore: number}} state
 * @param {{pump: () => void, flow: {expire: (now: number, maxAgeMs: number) => number}}} actions
 * @param {number} now  the client clock (ms), as frames' t_sent and t_capture
 * @param {number} maxAgeMs
 */
export function resumeSending(state, { pump, flow }, now, maxAgeMs) {
  flow.expire(now, maxAgeMs);
  state.staleBefore = Math.max(state.staleBefore, now - maxAgeMs);
  pump();
}

/**
 * Pause sending while `doc` is hidden (frames are dropped, never queued: a background tab's
 * timers are throttled and its results would be stale). When it is visible again, frames
 * still in flight from before are taken as lost (their results were dropped or are stale, and
 * a throttled timeout may not have fired) and sending resumes at once.
 * @param {{hidden: boolean, staleBefore: number}} state  its `hidden` is kept up to date here
 *   (the sender reads it)
 * @param {{pump: () => void, flow: {expire: (now: number, maxAgeMs: number) => number}, now: () => number}} actions
 *   pump: the capture loop; now: the client clock (ms), as frames' t_sent
 * @param {Pick<Document, "visibilityState" | "addEventListener" | "removeEventListener">} doc
 * @returns {() => void} stop watching
 */
export function watchVisibility(state, { pump, flow, now }, doc) {
  const onChange = () => {
    const wasHidden = state.hidden;
    state.hidden = doc.visibilityState === "hidden";
    if (wasHidden && !state.hidden) resumeSending(state, { pump, flow }, now(), STALE_MS);
  };
  state.hidden = doc.visibilityState === "hidden";
  doc.addEventListener("visibilitychange", onChange);
  return () => doc.removeEventListener("visibilitychange", onChange);
}

/**
 * Tries to open the camera again, with backoff, while `shouldRetry()` holds.
 */
export class CameraRetry {
  /**
   * @param {{start: () => Promise<boolean>, shouldRetry: () => boolean, timers?: Timers}} options
   *   start: one try, true when the camera plays again
   */
  constructor({ start, shouldRetry, timers = REAL_TIMERS }) {
    this.start = start;
    this.shouldRetry = shouldRetry;
    this.timers = timers;
    this.attempt = 0;
    /** @type {any} */
    this.timer = null;
  }

  /** Whether a try is scheduled. */
  get pending() {
    return this.timer !== null;
  }

  /** Schedule the next try (no-op when one is already scheduled). */
  schedule() {
    if (this.timer !== null) return;
    this.timer = this.timers.setTimeout(() => this.run(), retryDelay(this.attempt));
  }

  async run() {
    this.timer = null;
    if (!this.shouldRetry()) return this.cancel();
    const ok = await this.start();
    if (ok) this.attempt = 0;
    else if (this.shouldRetry()) {
      this.attempt += 1;
      this.schedule();
    }
  }

  /** Stop trying (stopped, another camera picked, Start pressed) and start over next time. */
  cancel() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
  }
}
