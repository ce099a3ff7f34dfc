import assert from "node:assert/strict";
import { test } from "node:test";

import { createLocalStore, createModelStore, DEFAULT_SETTINGS } from "../src/store.js";

test("local store: defaults, set notifies listeners of real changes only, unsubscribe", () => {
  const store = createLocalStore({ opacity: 0.3 });
  assert.equal(store.get("opacity"), 0.3);
  assert.equal(store.get("viz_mode"), DEFAULT_SETTINGS.viz_mode);
  /** @type {any[]} */
  const seen = [];
  const off = store.on("class_filter", (v) => seen.push(v));
  store.set("class_filter", ["person"]);
  store.set("class_filter", ["person"]); // equal list: no event
  store.set("class_filter", []);
  off();
  store.set("class_filter", ["cat"]);
  assert.deepEqual(seen, [["person"], []]);
  assert.deepEqual(store.get("class_filter"), ["cat"]);
});

/** The subset of the anywidget model API the store uses. */
function fakeModel(initial) {
  const values = { ...initial };
  /** @type {Map<string, Set<Function>>} */
  const handlers = new Map();
  let saves = 0;
  return {
    get: (k) => values[k],
    set(k, v) {
      values[k] = v;
      for (const h of handlers.get(`change:${k}`) || []) h();
    },
    save_changes: () => saves++,
    on(ev, h) {
      if (!handlers.has(ev)) handlers.set(ev, new Set());
      handlers.get(ev).add(h);
    },
    off(ev, h) {
      handlers.get(ev)?.delete(h);
    },
    get saves() {
      return saves;
    },
  };
}

test("model store: reads traits, applies writes at once and syncs them in one save_changes", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const model = fakeModel({ opacity: 0.6, running: false });
  const store = createModelStore(model, { syncDelayMs: 50 });
  /** @type {number[]} */
  const seen = [];
  const off = store.on("opacity", (v) => seen.push(v));
  store.set("opacity", 0.7);
  store.set("opacity", 0.8);
  assert.equal(model.get("opacity"), 0.8);
  assert.deepEqual(seen, [0.7, 0.8]);
  assert.equal(model.saves, 0);
  t.mock.timers.tick(50);
  assert.equal(model.saves, 1);
  store.set("running", true);
  store.flush();
  assert.equal(model.saves, 2);
  store.flush(); // nothing pending
  assert.equal(model.saves, 2);
  off();
  model.set("opacity", 0.1); // e.g. Python changed it
  assert.deepEqual(seen, [0.7, 0.8]);
});
