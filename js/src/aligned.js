// The aligned display (design decision 17): far from the kernel, the view draws each
// result over the frame it was computed from, not over the live video, so the mask sits on
// what is shown (the picture is as late as the result). The view keeps a copy of each frame
// it sends (an ImageBitmap per seq) until its result, or a newer one, comes back.
//
// The `display` setting: "live" (the camera's video, the newest mask over it), "aligned"
// (always the frame each result came from) or "auto" (aligned while the loop's latency is
// above about two camera frames, live below: on loopback the video stays live).

export const DISPLAYS = ["auto", "aligned", "live"];

/** Camera frames of latency above which "auto" aligns, and below which it goes live again. */
export const ALIGN_ABOVE = 2.5;
export const LIVE_BELOW = 1.5;

/** Camera frames of latency above which "auto" holds the frames it sends (a copy costs the
 * capture loop about 4 ms a frame here): below ALIGN_ABOVE, so they are there when it aligns. */
export const HOLD_ABOVE = 2;

/**
 * Whether to keep a copy of the frame about to be sent: always for "aligned", never for
 * "live", for "auto" while aligned or close to it (on loopback, no copies).
 * @param {any} setting
 * @param {number | null} latencyMs
 * @param {number} frameMs
 * @param {boolean} aligned  drawing aligned now
 */
export function holdFrames(setting, latencyMs, frameMs, aligned) {
  if (setting === "aligned") return true;
  if (setting === "live") return false;
  return aligned || (latencyMs != null && latencyMs > HOLD_ABOVE * frameMs);
}

/** Frames held at most (a window's worth and a few timed-out ones): the oldest goes first. */
export const MAX_HELD = 16;

/**
 * Whether to draw results over their own frames now.
 * @param {any} setting  "auto" | "aligned" | "live" (anything else: "auto")
 * @param {number | null} latencyMs  capture to render, recent mean; null before any
 * @param {number} frameMs  the camera's frame interval
 * @param {boolean} was  aligned until now (hysteresis between the two thresholds)
 */
export function alignedDisplay(setting, latencyMs, frameMs, was) {
  if (setting === "aligned") return true;
  if (setting === "live") return false;
  if (latencyMs == null || !Number.isFinite(latencyMs)) return was;
  if (latencyMs > ALIGN_ABOVE * frameMs) return true;
  if (latencyMs < LIVE_BELOW * frameMs) return false;
  return was;
}

/**
 * @typedef {{close: () => void, width: number, height: number}} Bitmap  an ImageBitmap
 */

/**
 * The frames sent and not yet answered, by seq. Results come back in order, so the result
 * for seq n retires every older frame (the kernel replaced them with newer ones and never
 * answers those): they are closed. Every frame is closed exactly once: when retired,
 * dropped (timed out), pushed out by MAX_HELD, cleared, or by whoever took it.
 */
export class HeldFrames {
  constructor(max = MAX_HELD) {
    this.max = max;
    /** @type {Map<number, {bitmap: Bitmap | null, gone: boolean}>} in seq order */
    this.frames = new Map();
    this.unpaired = 0; // results whose frame was no longer held
    this.closed = 0; // frames closed here (not handed out)
  }

  get size() {
    return this.frames.size;
  }

  /**
   * Hold the frame sent as `seq` (a bitmap, or the promise of one still being copied).
   * @param {number} seq
   * @param {Bitmap | Promise<Bitmap | null>} frame
   */
  put(seq, frame) {
    const entry = { bitmap: /** @type {Bitmap | null} */ (null), gone: false };
    this.frames.set(seq, entry);
    Promise.resolve(frame).then(
      (bitmap) => {
        if (!bitmap) this._forget(seq, entry);
        else if (entry.gone) this._close(bitmap);
        else entry.bitmap = bitmap;
      },
      () => this._forget(seq, entry),
    );
    while (this.frames.size > this.max) this._retire(/** @type {number} */ (this.frames.keys().next().value));
  }

  /**
   * The result for `seq` arrived: its frame (now the caller's to close), or null when it is
   * not held (timed out, pushed out, or still being copied); older frames are closed.
   * @param {number} seq
   * @returns {Bitmap | null}
   */
  take(seq) {
    for (const s of [...this.frames.keys()]) if (s < seq) this._retire(s);
    const entry = this.frames.get(seq);
    this.frames.delete(seq);
    const bitmap = entry && entry.bitmap;
    if (entry && !bitmap) entry.gone = true; // still copying: closed when it lands
    if (!bitmap) this.unpaired += 1;
    return bitmap || null;
  }

  /**
   * Let go of one frame (its result will not be drawn: timed out, or stale).
   * @param {number} seq
   */
  drop(seq) {
    if (this.frames.has(seq)) this._retire(seq);
  }

  /** Close every held frame (camera stopped, transport reset, view destroyed). */
  clear() {
    for (const s of [...this.frames.keys()]) this._retire(s);
  }

  /** @param {number} seq */
  _retire(seq) {
    const entry = this.frames.get(seq);
    this.frames.delete(seq);
    if (!entry) return;
    entry.gone = true;
    if (entry.bitmap) this._close(entry.bitmap);
    entry.bitmap = null;
  }

  /**
   * @param {number} seq
   * @param {{gone: boolean}} entry
   */
  _forget(seq, entry) {
    entry.gone = true;
    if (this.frames.get(seq) === entry) this.frames.delete(seq);
  }

  /** @param {Bitmap} bitmap */
  _close(bitmap) {
    this.closed += 1;
    bitmap.close();
  }
}
