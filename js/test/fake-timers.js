// Manual timers for the unit tests: advance() fires the ones due, in the order they were set.

/** A fake clock with setTimeout / clearTimeout to inject into the code under test. */
export function fakeTimers() {
  let now = 0;
  let id = 0;
  /** @type {Map<number, {at: number, fn: () => void}>} */
  const timers = new Map();
  return {
    setTimeout: (/** @type {() => void} */ fn, /** @type {number} */ ms) => {
      timers.set(++id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (/** @type {number} */ h) => timers.delete(h),
    get count() {
      return timers.size;
    },
    /** the delay of the first scheduled timer, or null */
    nextDelay() {
      const t = [...timers.values()][0];
      return t ? t.at - now : null;
    },
    /**
     * Move the clock on by `ms` and fire the timers due, synchronously. The promise it returns
     * resolves once pending promise work has run, for callers whose timers start async work.
     */
    advance(/** @type {number} */ ms) {
      now += ms;
      for (const [h, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(h);
          t.fn();
        }
      }
      return new Promise((r) => setImmediate(r));
    },
  };
}
