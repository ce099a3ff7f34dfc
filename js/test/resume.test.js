import assert from "node:assert/strict";
import { test } from "node:test";

import { FrameFlow } from "../src/flow.js";
import { CameraRetry, MAX_RETRY_MS, STALE_MS, retryDelay, watchVisibility } from "../src/resume.js";
import { fakeTimers } from "./fake-timers.js";

/** A document whose visibility the test sets. */
function fakeDocument() {
  /** @type {Set<() => void>} */
  const listeners = new Set();
  return {
    visibilityState: /** @type {DocumentVisibilityState} */ ("visible"),
    addEventListener: (/** @type {string} */ _name, /** @type {() => void} */ fn) => listeners.add(fn),
    removeEventListener: (/** @type {string} */ _name, /** @type {() => void} */ fn) => listeners.delete(fn),
    set(/** @type {DocumentVisibilityState} */ v) {
      this.visibilityState = v;
      listeners.forEach((fn) => fn());
    },
    get listeners() {
      return listeners.size;
    },
  };
}

test("frames in flight for longer than the limit are dropped from the window; newer ones stay", () => {
  const timers = fakeTimers();
  const flow = new FrameFlow({ timers, maxInFlight: 2 });
  flow.begin({ seq: 1, t_capture: 0, t_sent: 0 });
  flow.begin({ seq: 2, t_capture: 4000, t_sent: 4000 });
  assert.ok(!flow.canSend());
  assert.equal(flow.expire(5000, 3000), 1);
  assert.equal(flow.size, 1);
  assert.ok(flow.canSend());
  assert.deepEqual(flow.settle(1), { seq: 1, t_capture: 0, t_sent: 0 }, "a late result is still measured");
  assert.equal(flow.expire(5000, 3000), 0);
});

test("hidden: the sender is told to stop; visible: stale frames go and sending resumes at once", () => {
  const doc = fakeDocument();
  const flow = new FrameFlow({ timers: fakeTimers(), maxInFlight: 2 });
  const state = { hidden: true, staleBefore: 0 };
  let pumps = 0;
  let now = 0;
  const stop = watchVisibility(state, { pump: () => pumps++, flow, now: () => now }, doc);
  assert.equal(state.hidden, false, "starts from the document's state");
  flow.begin({ seq: 1, t_capture: 0, t_sent: 0 });
  flow.begin({ seq: 2, t_capture: 10, t_sent: 10 });
  doc.set("hidden");
  assert.equal(state.hidden, true);
  assert.equal(pumps, 0);
  now = 60000; // a minute later; the throttled timeouts never fired
  doc.set("visible");
  assert.equal(state.hidden, false);
  assert.equal(flow.size, 0, "the window is not stuck on results that were dropped");
  assert.equal(state.staleBefore, 60000 - STALE_MS, "results of frames from before are not drawn");
  assert.equal(pumps, 1);
  doc.set("visible"); // no change: nothing to do
  assert.equal(pumps, 1);
  stop();
  assert.equal(doc.listeners, 0);
  assert.ok(STALE_MS > 2000, "longer than a frame's normal timeout");
});

test("retry delays double from 1 s up to the cap", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(retryDelay), [1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(MAX_RETRY_MS, 10000);
});

test("the camera is tried again with backoff until it plays, then the backoff starts over", async () => {
  const timers = fakeTimers();
  const results = [false, false, true];
  let tries = 0;
  const retry = new CameraRetry({
    start: async () => results[tries++],
    shouldRetry: () => true,
    timers,
  });
  retry.schedule();
  retry.schedule(); // one try at a time
  assert.equal(timers.nextDelay(), 1000);
  await timers.advance(1000);
  assert.equal(tries, 1);
  assert.equal(timers.nextDelay(), 2000);
  await timers.advance(2000);
  assert.equal(tries, 2);
  assert.equal(timers.nextDelay(), 4000);
  await timers.advance(4000);
  assert.equal(tries, 3);
  assert.equal(retry.pending, false, "it plays: no more tries");
  retry.schedule();
  assert.equal(timers.nextDelay(), 1000);
});

test("no tries once stopped, or when retrying no longer applies", async () => {
  const timers = fakeTimers();
  let tries = 0;
  let running = true;
  const retry = new CameraRetry({ start: async () => (tries++, false), shouldRetry: () => running, timers });
  retry.schedule();
  retry.cancel();
  await timers.advance(20000);
  assert.equal(tries, 0);
  retry.schedule();
  running = false;
  await timers.advance(1000);
  assert.equal(tries, 0);
  assert.equal(retry.pending, false);
});
