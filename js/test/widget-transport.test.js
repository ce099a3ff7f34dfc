import assert from "node:assert/strict";
import { test } from "node:test";

import { modelTransport } from "../src/widget.js";

/** A model whose comm works until `kill()`; events as Backbone's on/off/trigger. */
function fakeModel() {
  /** @type {Map<string, Set<Function>>} */
  const events = new Map();
  const sent = /** @type {any[]} */ ([]);
  let dead = false;
  return {
    sent,
    send(/** @type {any} */ header) {
      if (dead) throw new Error("Cannot send");
      sent.push(header);
    },
    on(/** @type {string} */ name, /** @type {Function} */ cb) {
      if (!events.has(name)) events.set(name, new Set());
      events.get(name)?.add(cb);
    },
    off(/** @type {string} */ name, /** @type {Function} */ cb) {
      events.get(name)?.delete(cb);
    },
    trigger(/** @type {string} */ name, /** @type {any[]} */ ...args) {
      for (const cb of [...(events.get(name) || [])]) cb(...args);
    },
    kill() {
      dead = true;
    },
  };
}

test("a send that throws (the comm disposed by a restart) is the loss, told once, never thrown", () => {
  const model = fakeModel();
  const transport = modelTransport(model);
  let lost = 0;
  transport.onLost(() => lost++);
  transport.send({ type: "hello" });
  assert.deepEqual(model.sent, [{ type: "hello" }]);
  assert.ok(transport.isOpen());
  model.kill();
  assert.doesNotThrow(() => transport.send({ type: "frame" }));
  assert.equal(lost, 1);
  assert.ok(!transport.isOpen());
  transport.send({ type: "frame" });
  assert.equal(lost, 1);
});

test("ipywidgets marking the comm dead (comm_live_update on restart) is the loss; nothing more is sent", () => {
  const model = fakeModel();
  const transport = modelTransport(model);
  let lost = 0;
  const stop = transport.onLost(() => lost++);
  model.trigger("comm_live_update");
  model.trigger("comm_live_update");
  assert.equal(lost, 1);
  transport.send({ type: "frame" });
  assert.deepEqual(model.sent, []);
  stop();
});

test("messages with a type reach the listener with their buffers", () => {
  const model = fakeModel();
  const got = /** @type {any[]} */ ([]);
  const stop = modelTransport(model).onMessage((msg, buffers) => got.push([msg.type, buffers.length]));
  model.trigger("msg:custom", { type: "result" }, [new DataView(new ArrayBuffer(1))]);
  model.trigger("msg:custom", { nope: 1 });
  stop();
  model.trigger("msg:custom", { type: "late" });
  assert.deepEqual(got, [["result", 1]]);
});

test("Colab's manager closing the comm (comm:close on restart) is the loss; a `closing` message first marks it the kernel's own close", () => {
  const model = fakeModel();
  const transport = modelTransport(model);
  let lost = 0;
  /** @type {any[]} */
  const got = [];
  transport.onLost(() => lost++);
  transport.onMessage((m) => got.push(m));
  model.trigger("comm:close");
  assert.equal(lost, 1);
  assert.equal(transport.lostBy(), "comm:close");
  assert.equal(transport.closedByKernel(), false);
  const closed = modelTransport(fakeModel());
  const m2 = fakeModel();
  const t2 = modelTransport(m2);
  t2.onMessage((m) => got.push(m));
  m2.trigger("msg:custom", { type: "closing" });
  assert.equal(t2.closedByKernel(), true);
  assert.deepEqual(got, []); // `closing` is the transport's, not the session's
  assert.equal(closed.lostBy(), "");
});
