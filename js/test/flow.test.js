import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_MAX_IN_FLIGHT, FrameFlow, makeFeedback, maxInFlight, paceDelay, uploadSide } from "../src/flow.js";
import { fakeTimers } from "./fake-timers.js";

const frame = (/** @type {number} */ seq) => ({ seq, t_capture: 1000 + seq, t_sent: 1001 + seq });

test("at most two frames in flight; a result frees a slot", () => {
  const timers = fakeTimers();
  const flow = new FrameFlow({ timers });
  assert.ok(flow.canSend());
  flow.begin(frame(1));
  assert.ok(flow.canSend());
  flow.begin(frame(2));
  assert.equal(flow.canSend(), false);
  assert.deepEqual(flow.settle(1), frame(1));
  assert.ok(flow.canSend());
  assert.equal(flow.size, 1);
  assert.equal(timers.count, 1); // frame 1's timeout disarmed
});

test("a result retires older frames the server dropped", () => {
  const flow = new FrameFlow({ maxInFlight: 3, timers: fakeTimers() });
  flow.begin(frame(1));
  flow.begin(frame(2));
  flow.begin(frame(3));
  assert.deepEqual(flow.settle(2), frame(2));
  assert.equal(flow.size, 1);
  assert.equal(flow.settle(1), null); // already retired
  assert.deepEqual(flow.settle(3), frame(3));
  assert.equal(flow.size, 0);
});

test("a frame without an answer leaves the window after the 2 s timeout", () => {
  const timers = fakeTimers();
  /** @type {number[]} */
  const timedOut = [];
  const flow = new FrameFlow({ timers, onTimeout: (f) => timedOut.push(f.seq) });
  flow.begin(frame(1));
  flow.begin(frame(2));
  timers.advance(1999);
  assert.equal(flow.canSend(), false);
  assert.deepEqual(timedOut, []);
  timers.advance(1);
  assert.deepEqual(timedOut, [1, 2]);
  assert.ok(flow.canSend());
  // a late result still finds its send time (for network_ms)
  assert.deepEqual(flow.settle(2), frame(2));
  assert.equal(flow.settle(2), null);
});

test("clear forgets everything and disarms the timers", () => {
  const timers = fakeTimers();
  let fired = 0;
  const flow = new FrameFlow({ timers, onTimeout: () => fired++ });
  flow.begin(frame(1));
  flow.clear();
  timers.advance(5000);
  assert.equal(fired, 0);
  assert.equal(flow.size, 0);
});

test("feedback: capture-to-render latency and round trip minus server time", () => {
  const fb = makeFeedback(
    { seq: 40, t_capture: 1000, server_ms: 25.9 },
    { t_rendered: 1061.04, render_ms: 2.14, decode_ms: 0.43, t_sent: 1005, t_received: 1040 },
  );
  assert.deepEqual(fb, { seq: 40, latency_ms: 61, render_ms: 2.1, decode_ms: 0.4, network_ms: 9.1 });
  const unknown = makeFeedback({ seq: 1, t_capture: 0 }, { t_rendered: 5, render_ms: 1, decode_ms: 1, t_sent: null, t_received: 4 });
  assert.equal("network_ms" in unknown, false);
  const clamp = makeFeedback({ seq: 1, t_capture: 0, server_ms: 50 }, { t_rendered: 5, render_ms: 1, decode_ms: 1, t_sent: 0, t_received: 40 });
  assert.equal(clamp.network_ms, 0);
});

test("max_in_flight setting: auto or 1 to 8, anything else auto", () => {
  assert.equal(maxInFlight(1), 1);
  assert.equal(maxInFlight(2), 2);
  assert.equal(maxInFlight("1"), 1);
  assert.equal(maxInFlight(8), 8);
  assert.equal(maxInFlight("auto"), "auto");
  for (const bad of [undefined, null, 0, 9, 1.5, "x", true]) assert.equal(maxInFlight(bad), DEFAULT_MAX_IN_FLIGHT);
  assert.equal(DEFAULT_MAX_IN_FLIGHT, "auto");
  const flow = new FrameFlow({ maxInFlight: maxInFlight(1), timers: fakeTimers() });
  flow.begin(frame(1));
  assert.equal(flow.canSend(), false);
});

test("upload_size setting: the model's input size, or no limit for full", () => {
  assert.equal(uploadSide("model", 320), 320);
  assert.equal(uploadSide(undefined, 320), 320);
  assert.equal(uploadSide("full", 320), Infinity);
});

test("upload side follows adaptive quality's input size, never above the model's", () => {
  assert.equal(uploadSide("model", 320, { input_size: 256, adapted: true }), 256);
  assert.equal(uploadSide("model", 320, { input_size: 320, adapted: false }), 320);
  assert.equal(uploadSide("model", 320, { input_size: 640, adapted: true }), 320);
  assert.equal(uploadSide("model", 320, { input_size: "x", adapted: true }), 320);
  assert.equal(uploadSide("full", 320, { input_size: 256, adapted: true }), Infinity);
  assert.equal(uploadSide("model", 320, null), 320);
});

test("paceDelay holds frames to the frame rate cap", () => {
  assert.equal(paceDelay(null, 1000, 1001), 0);
  assert.equal(paceDelay(10, null, 1001), 0);
  assert.equal(paceDelay(10, 1000, 1040), 60);
  assert.equal(paceDelay(10, 1000, 1100), 0);
  assert.equal(paceDelay(10, 1000, 1500), 0);
  assert.equal(paceDelay(0, 1000, 1001), 0);
  assert.equal(paceDelay("bad", 1000, 1001), 0);
});
