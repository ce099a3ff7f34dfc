import assert from "node:assert/strict";
import { test } from "node:test";

import { FrameFlow } from "../src/flow.js";
import { MAX_WAIT_MS, PROBE_MS, ReplyWatch, WAIT_FACTOR, WAIT_MS, roomToSend, sendCap } from "../src/link.js";
import { fakeTimers } from "./fake-timers.js";

function watchWith({ active = true, outstanding = true } = {}) {
  const timers = fakeTimers();
  const calls = /** @type {string[]} */ ([]);
  const flags = { active, outstanding };
  const watch = new ReplyWatch({
    timers,
    active: () => flags.active,
    outstanding: () => flags.outstanding,
    onWaiting: () => calls.push("waiting"),
    onResumed: () => calls.push("resumed"),
  });
  return { watch, timers, calls, flags };
}

test("a frame unanswered for WAIT_MS while streaming: waiting; the next message: resumed", () => {
  const { watch, timers, calls } = watchWith();
  watch.sent();
  timers.advance(WAIT_MS - 1);
  watch.sent(); // a later frame does not restart the clock of the oldest unanswered one
  assert.deepEqual(calls, []);
  timers.advance(1);
  assert.deepEqual(calls, ["waiting"]);
  assert.ok(watch.waiting);
  watch.sent(); // probes while waiting arm nothing new
  assert.equal(timers.count, 0);
  watch.heard();
  assert.deepEqual(calls, ["waiting", "resumed"]);
  assert.ok(!watch.waiting);
  watch.heard(); // already live: nothing more
  assert.deepEqual(calls, ["waiting", "resumed"]);
});

test("answers in time never show waiting; frames still out re-arm the clock", () => {
  const { watch, timers, calls, flags } = watchWith();
  for (let i = 0; i < 10; i++) {
    watch.sent();
    timers.advance(WAIT_MS / 2);
    watch.heard();
  }
  assert.deepEqual(calls, []);
  assert.equal(timers.count, 1, "a frame is still out after each answer");
  flags.outstanding = false;
  watch.heard();
  assert.equal(timers.count, 0, "nothing out: nothing to wait for");
  timers.advance(10 * WAIT_MS);
  assert.deepEqual(calls, []);
});

test("a view that does not stream (camera stopped, tab hidden) is not waiting", () => {
  const { watch, timers, calls } = watchWith({ active: false });
  watch.sent();
  timers.advance(WAIT_MS);
  assert.deepEqual(calls, []);
  assert.ok(!watch.waiting);
});

test("clear() forgets the clock and the waiting state without a callback", () => {
  const { watch, timers, calls } = watchWith();
  watch.sent();
  timers.advance(WAIT_MS);
  assert.ok(watch.waiting);
  watch.clear();
  assert.ok(!watch.waiting);
  watch.heard();
  assert.deepEqual(calls, ["waiting"]);
  watch.sent();
  watch.clear();
  assert.equal(timers.count, 0);
});

test("while waiting, one probe at a time at PROBE_MS; otherwise the window and adaptive cap", () => {
  const flow = new FrameFlow({ timers: fakeTimers(), maxInFlight: 2 });
  const watch = { waiting: false };
  const quality = { max_fps: 12 };
  flow.begin({ seq: 1, t_capture: 0, t_sent: 0 });
  assert.ok(roomToSend(watch, flow), "room for a second frame");
  assert.equal(sendCap(watch, quality), 12);
  watch.waiting = true;
  assert.ok(!roomToSend(watch, flow), "a probe is already out");
  assert.equal(sendCap(watch, quality), 1000 / PROBE_MS);
  flow.settle(1);
  assert.ok(roomToSend(watch, flow));
  assert.equal(sendCap({ waiting: false }, null), null);
  assert.ok(PROBE_MS <= WAIT_MS);
});

test("a kernel that is always slow is not taken for one that is away: the wait follows its round trip", () => {
  const { watch, timers, calls } = watchWith();
  assert.equal(watch.waitFor, WAIT_MS, "before any result: the base wait");
  watch.roundTrip(3000); // a slow profile on a slow CPU: 3 s a frame
  assert.equal(watch.waitFor, WAIT_FACTOR * 3000);
  watch.sent();
  timers.advance(4500); // its answer is late, not overdue
  assert.deepEqual(calls, []);
  watch.heard();
  watch.roundTrip(4500);
  // a fast kernel's usual round trip keeps the base wait; one long (stale) answer raises the
  // wait only part of the way
  const fast = watchWith().watch;
  for (let i = 0; i < 5; i++) fast.roundTrip(100);
  assert.equal(fast.waitFor, WAIT_MS);
  fast.roundTrip(12000);
  assert.ok(fast.waitFor > WAIT_MS && fast.waitFor < WAIT_FACTOR * 12000, String(fast.waitFor));
  fast.roundTrip(Number.NaN);
  fast.roundTrip(-1);
  assert.ok(Number.isFinite(fast.waitFor));
  const crawling = watchWith().watch;
  crawling.roundTrip(60000);
  assert.equal(crawling.waitFor, MAX_WAIT_MS, "never longer than the cap");
});
