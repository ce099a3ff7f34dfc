import assert from "node:assert/strict";
import { test } from "node:test";

import { ALIGN_ABOVE, HeldFrames, MAX_HELD, alignedDisplay, holdFrames } from "../src/aligned.js";
import { FrameFlow } from "../src/flow.js";
import { fakeTimers } from "./fake-timers.js";

/** A fake ImageBitmap that counts its closes. */
function bitmap(/** @type {number} */ seq) {
  return {
    seq,
    width: 640,
    height: 480,
    closes: 0,
    close() {
      this.closes += 1;
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

test("display: aligned and live as set; auto follows the latency with hysteresis", () => {
  const frameMs = 1000 / 30;
  assert.equal(alignedDisplay("aligned", 10, frameMs, false), true);
  assert.equal(alignedDisplay("live", 500, frameMs, true), false);
  assert.equal(alignedDisplay("auto", 38, frameMs, false), false); // loopback
  assert.equal(alignedDisplay("auto", 240, frameMs, false), true); // 200 ms away
  assert.equal(alignedDisplay("auto", ALIGN_ABOVE * frameMs - 1, frameMs, false), false);
  assert.equal(alignedDisplay("auto", 60, frameMs, true), true); // between: stays
  assert.equal(alignedDisplay("auto", 40, frameMs, true), false);
  assert.equal(alignedDisplay("auto", null, frameMs, true), true);
  assert.equal(alignedDisplay(undefined, 240, frameMs, false), true);
});

test("each result gets the frame it was computed from", async () => {
  const held = new HeldFrames();
  const frames = [1, 2, 3].map(bitmap);
  frames.forEach((f) => held.put(f.seq, f));
  await settle();
  assert.equal(held.take(1), frames[0]);
  assert.equal(held.take(2), frames[1]);
  assert.equal(held.size, 1);
  assert.deepEqual(
    frames.map((f) => f.closes),
    [0, 0, 0],
  ); // handed out, not closed: the caller draws and closes them
});

test("frames the kernel replaced (never answered) are closed when a newer result comes", async () => {
  const held = new HeldFrames();
  const frames = [1, 2, 3, 4].map(bitmap);
  frames.forEach((f) => held.put(f.seq, f));
  await settle();
  // the kernel's newest-frame slot replaced 2 and 3 with 4
  assert.equal(held.take(1), frames[0]);
  assert.equal(held.take(4), frames[3]);
  assert.equal(frames[1].closes, 1);
  assert.equal(frames[2].closes, 1);
  assert.equal(held.size, 0);
  assert.equal(held.unpaired, 0);
});

test("a frame still being copied when its result comes is closed once it lands", async () => {
  const held = new HeldFrames();
  const f = bitmap(1);
  /** @type {(b: any) => void} */
  let land = () => {};
  held.put(1, new Promise((r) => (land = r)));
  assert.equal(held.take(1), null);
  assert.equal(held.unpaired, 1);
  land(f);
  await settle();
  assert.equal(f.closes, 1);
});

test("timeouts: a timed-out frame is dropped and closed; its late result draws unpaired", async () => {
  const timers = fakeTimers();
  const held = new HeldFrames();
  const flow = new FrameFlow({ maxInFlight: 4, timers, onTimeout: (fr) => held.drop(fr.seq) });
  const frames = [1, 2].map(bitmap);
  for (const f of frames) {
    flow.begin({ seq: f.seq, t_capture: 0, t_sent: 0 });
    held.put(f.seq, f);
  }
  await settle();
  await timers.advance(2000);
  assert.equal(frames[0].closes, 1);
  assert.equal(frames[1].closes, 1);
  assert.equal(held.size, 0);
  assert.ok(flow.settle(2)); // the late result still gets its round trip
  assert.equal(held.take(2), null);
  assert.equal(held.unpaired, 1);
  assert.deepEqual(
    frames.map((f) => f.closes),
    [1, 1],
  ); // closed once each
});

test("never more than MAX_HELD: the oldest is closed; clear closes the rest", async () => {
  const held = new HeldFrames();
  const frames = Array.from({ length: MAX_HELD + 5 }, (_, i) => bitmap(i + 1));
  frames.forEach((f) => held.put(f.seq, f));
  await settle();
  assert.equal(held.size, MAX_HELD);
  assert.deepEqual(
    frames.slice(0, 5).map((f) => f.closes),
    [1, 1, 1, 1, 1],
  );
  held.clear();
  assert.equal(held.size, 0);
  assert.ok(frames.every((f) => f.closes === 1));
});

test("a copy that fails is forgotten, not drawn", async () => {
  const held = new HeldFrames();
  held.put(1, Promise.reject(new Error("no frame")));
  await settle();
  assert.equal(held.size, 0);
  assert.equal(held.take(1), null);
});

test("a long run with drops and timeouts closes every frame exactly once", async () => {
  const held = new HeldFrames();
  /** @type {ReturnType<typeof bitmap>[]} */
  const all = [];
  const taken = new Set();
  let seed = 3;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  let next = 1;
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
      const f = bitmap(next++);
      all.push(f);
      held.put(f.seq, f);
    }
    await settle();
    const r = rand();
    const seqs = [...held.frames.keys()];
    if (!seqs.length) continue;
    const pick = seqs[Math.floor(rand() * seqs.length)];
    if (r < 0.7) {
      const b = held.take(pick);
      if (b) {
        taken.add(b);
        b.close();
      }
    } else if (r < 0.9) held.drop(pick);
  }
  held.clear();
  assert.ok(all.every((f) => f.closes === 1), "every frame closed once");
  assert.ok(taken.size > 50);
});

test("frames are copied only where they may be drawn: never on loopback with auto", () => {
  const frameMs = 1000 / 30;
  assert.equal(holdFrames("auto", 38, frameMs, false), false); // loopback: no copy per frame
  assert.equal(holdFrames("auto", 70, frameMs, false), true); // close to aligning: ready
  assert.ok(70 < ALIGN_ABOVE * frameMs);
  assert.equal(holdFrames("auto", 30, frameMs, true), true); // aligned now
  assert.equal(holdFrames("auto", null, frameMs, false), false);
  assert.equal(holdFrames("aligned", 5, frameMs, false), true);
  assert.equal(holdFrames("live", 500, frameMs, true), false);
});
