import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_WINDOW, WindowController } from "../src/window.js";
import { fakeTimers } from "./fake-timers.js";

/**
 * A camera, a link and a kernel on fake timers, with the controller choosing the window.
 * The uplink serialises frames at `upMbit` (FIFO: a frame waits for the ones before it),
 * then adds `rttMs / 2` plus up to `jitterMs` (never reordering); the kernel keeps only the
 * newest pending frame and takes `kernelMs` each; results come back after `rttMs / 2`.
 * `schedule` may change `upMbit` mid-run: [[atMs, upMbit], ...]; `fixed` replaces the
 * controller's window by a fixed one (what `max_in_flight: 1..8` does).
 * @param {{rttMs: number, upMbit: number, kernelMs?: number, bytes?: number, fps?: number,
 *   jitterMs?: number, seconds?: number, schedule?: [number, number][], seed?: number,
 *   fixed?: number}} link
 */
function simulate({ rttMs, upMbit, kernelMs = 5, bytes = 10000, fps = 30, jitterMs = 0, seconds = 20, schedule = [], seed = 7, fixed = 0 }) {
  const timers = fakeTimers();
  const win = new WindowController({ rate: fps });
  if (fixed) Object.defineProperty(win, "size", { get: () => fixed });
  let now = 0;
  let rand = seed;
  const random = () => ((rand = (rand * 16807) % 2147483647) / 2147483647);
  /** @type {Map<number, number>} seq -> t_sent */
  const inFlight = new Map();
  let seq = 0;
  let upFree = 0; // when the uplink has sent everything queued on it
  let lastArrival = 0;
  /** @type {{seq: number, t_sent: number, t_arrived: number} | null} */
  let slot = null;
  let busy = false;
  let rate = upMbit;
  /** @type {{t: number, seq: number, trip: number, window: number, limited: boolean}[]} */
  const results = [];
  const dropped = { n: 0 };

  function work() {
    if (busy || !slot) return;
    const frame = slot;
    slot = null;
    busy = true;
    const start = now;
    timers.setTimeout(() => {
      busy = false;
      const serverMs = now - frame.t_arrived; // the kernel's queue + its own time
      timers.setTimeout(() => receive(frame.seq, frame.t_sent, serverMs), rttMs / 2);
      work();
    }, kernelMs + (start - now));
  }

  /**
   * @param {number} s
   * @param {number} tSent
   * @param {number} serverMs
   */
  function receive(s, tSent, serverMs) {
    for (const k of [...inFlight.keys()]) if (k <= s) inFlight.delete(k);
    win.observe(now, { roundTripMs: now - tSent, serverMs, bytes });
    results.push({ t: now, seq: s, trip: now - tSent, window: win.size, limited: win.limited });
  }

  function send() {
    if (inFlight.size >= win.size) return;
    seq += 1;
    const s = seq;
    const tSent = now;
    inFlight.set(s, tSent);
    upFree = Math.max(upFree, now) + (bytes * 8) / (rate * 1000);
    const arrival = Math.max(lastArrival, upFree + rttMs / 2 + random() * jitterMs);
    lastArrival = arrival;
    timers.setTimeout(() => {
      if (slot) dropped.n += 1;
      slot = { seq: s, t_sent: tSent, t_arrived: now };
      work();
    }, arrival - now);
  }

  const frameMs = 1000 / fps;
  let nextFrame = 0;
  for (now = 0; now < seconds * 1000; now += 1) {
    for (const [at, mbit] of schedule) if (at === now) rate = mbit;
    timers.advance(1);
    if (now >= nextFrame) {
      nextFrame += frameMs;
      send();
    }
  }
  /** @param {number} from @param {number} to */
  const between = (from, to) => results.filter((r) => r.t >= from && r.t < to);
  return { win, results, between, dropped: dropped.n };
}

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))];
};

test("loopback: a window of two, as before", () => {
  const { win, between } = simulate({ rttMs: 1, upMbit: 1000, kernelMs: 20 });
  assert.equal(win.size, 2);
  const rate = between(10000, 20000).length / 10;
  assert.ok(rate > 28, `results/s ${rate}`);
});

test("a long round trip: the window grows to hold the camera's rate", () => {
  for (const rttMs of [100, 200, 300]) {
    const { win, between } = simulate({ rttMs, upMbit: 20 });
    const late = between(5000, 20000);
    const rate = late.length / 15;
    assert.ok(rate >= 0.9 * 30, `${rttMs} ms: results/s ${rate.toFixed(1)}, window ${win.size}`);
    // with two frames in flight it would be about 2 / round trip
    assert.ok(rate > (2.5 * 1000) / rttMs, `${rttMs} ms: more than a window of two allows`);
    assert.ok(quantile(late.map((r) => r.trip), 0.5) <= rttMs + 60, `${rttMs} ms: no queue`);
    assert.equal(win.limited, false);
    assert.ok(win.size > 2 && win.size <= MAX_WINDOW);
  }
});

test("jitter does not collapse the window", () => {
  const { win, between } = simulate({ rttMs: 200, upMbit: 20, jitterMs: 30 });
  const rate = between(5000, 20000).length / 15;
  assert.ok(rate >= 0.85 * 30, `results/s ${rate.toFixed(1)}, window ${win.size}`);
});

test("a thin uplink: no standing queue, the rate the link allows, and `limited` said", () => {
  // 10 kB frames: 2 Mbit/s carries 25 a second, fewer than the camera's 30
  const { win, between } = simulate({ rttMs: 200, upMbit: 2 });
  const late = between(5000, 20000);
  const trips = late.map((r) => r.trip);
  assert.ok(quantile(trips, 0.5) <= 200 + 150, `p50 round trip ${quantile(trips, 0.5)}`);
  const rate = late.length / 15;
  assert.ok(rate >= 0.8 * 25, `results/s ${rate.toFixed(1)} of the 25 the link carries`);
  assert.ok(late.filter((r) => r.limited).length > late.length / 2, "the link is reported as the limit");
  assert.ok(win.report(20000).link_limited === 1 || win.report(20000).link_queue_ms > 0);
});

test("the same links with a fixed window: two starve a long round trip, eight queue on a thin one", () => {
  const two = simulate({ rttMs: 200, upMbit: 20, fixed: 2 }).between(5000, 20000).length / 15;
  assert.ok(two < 10, `a window of two: results/s ${two.toFixed(1)}`);
  // 10 kB frames over 1 Mbit/s: 80 ms each on the wire
  const eight = simulate({ rttMs: 200, upMbit: 1, fixed: 8 }).between(5000, 20000).map((r) => r.trip);
  assert.ok(quantile(eight, 0.5) > 200 + 300, `a window of eight: p50 round trip ${quantile(eight, 0.5)}`);
  // auto keeps at most about 1.5 frames queued (what keeps the uplink busy) and says the
  // link is the limit, so adaptive quality makes the frames smaller (segwidget/adapt.py)
  const run = simulate({ rttMs: 200, upMbit: 1 });
  const late = run.between(5000, 20000);
  const auto = late.map((r) => r.trip);
  assert.ok(quantile(auto, 0.5) <= 200 + 80 + 2 * 80, `auto: p50 round trip ${quantile(auto, 0.5)}`);
  assert.ok(quantile(auto, 0.5) < quantile(eight, 0.5) - 200);
  assert.ok(late.length / 15 >= 0.85 * 12.5, "and the link stays busy");
  assert.ok(late.filter((r) => r.limited).length > late.length / 2);
});

test("a slow kernel shrinks the window (its pace, not the camera's)", () => {
  const fast = simulate({ rttMs: 200, upMbit: 20, kernelMs: 5 }).win.size;
  const slow = simulate({ rttMs: 200, upMbit: 20, kernelMs: 100 });
  assert.ok(slow.win.size < fast, `slow ${slow.win.size} vs fast ${fast}`);
  assert.ok(slow.win.size <= Math.ceil((300 * 10) / 1000) + 1);
  // it still gets the kernel's pace: about 10 a second
  const rate = slow.between(5000, 20000).length / 15;
  assert.ok(rate >= 8, `results/s ${rate.toFixed(1)}`);
});

test("the rate drops 20 -> 2 Mbit/s mid-stream: round trip back near the floor within 10 s", () => {
  const { between } = simulate({ rttMs: 200, upMbit: 20, bytes: 12000, schedule: [[8000, 2]], seconds: 25 });
  const before = between(4000, 8000).length / 4;
  assert.ok(before >= 27, `results/s before ${before}`);
  const after = between(18000, 25000).map((r) => r.trip);
  assert.ok(quantile(after, 0.5) <= 200 + 150, `p50 round trip after the drop ${quantile(after, 0.5)}`);
});

test("report: numbers for the frame feedback; nothing before the first answer", () => {
  const win = new WindowController();
  assert.equal(win.report(0), null);
  win.observe(100, { roundTripMs: 210, serverMs: 10, bytes: 5000 });
  const r = /** @type {any} */ (win.report(100));
  assert.equal(r.link_base_ms, 200);
  assert.equal(r.window_want, Math.ceil((210 * 30) / 1000) + 1);
  assert.equal(r.up_kbps, 40);
  for (const v of Object.values(r)) assert.equal(typeof v, "number");
  win.observe(100, { roundTripMs: NaN });
  assert.equal(win.report(100)?.link_base_ms, 200);
  win.reset();
  assert.equal(win.report(200), null);
  assert.equal(win.size, 2);
});

test("adaptive quality's frame-rate cap lowers the target", () => {
  const win = new WindowController({ rate: 30 });
  win.observe(0, { roundTripMs: 300, serverMs: 0 });
  const full = win.want;
  win.capFps = 10;
  assert.ok(win.want < full);
  assert.equal(win.want, Math.ceil((300 * 10) / 1000) + 1);
});

test("a loaded machine's jitter on loopback never takes the window under two", () => {
  const { results } = simulate({ rttMs: 1, upMbit: 1000, kernelMs: 20, jitterMs: 80 });
  assert.ok(results.every((r) => r.window >= 2));
});

test("a kernel slower than the camera on loopback: still two (more would only wait in its slot)", () => {
  const { win } = simulate({ rttMs: 2, upMbit: 1000, kernelMs: 40 });
  assert.equal(win.size, 2);
});

test("a busy browser's odd late answers are not taken for a queue", () => {
  const win = new WindowController({ rate: 30 });
  for (let i = 0; i < 600; i++) {
    const late = i % 4 === 0 ? 120 : 0; // one answer in four held up by a busy main thread
    win.observe(i * 33, { roundTripMs: 205 + late + (i % 3), serverMs: 5 });
  }
  assert.equal(win.limited, false);
  assert.equal(win.size, win.want);
  assert.ok(win.want >= 7);
});
