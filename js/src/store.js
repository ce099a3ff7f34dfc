// Settings stores: the one interface the controls, renderer and session read and write.
//   get(name) -> value;  set(name, value);  on(name, cb) -> unsubscribe, cb(value) on change.
// The widget binds it to the anywidget model (synced traits); the page to a local store.

/**
 * @typedef {object} SettingsStore
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {(name: string, cb: (value: any) => void) => () => void} on
 */

import { DEFAULT_BACKGROUND } from "./effects.js";

/** Defaults of the synced traits, used by the page (the widget gets them from Python). */
export const DEFAULT_SETTINGS = Object.freeze({
  profile: null,
  viz_mode: "filled",
  opacity: 0.6,
  class_filter: [],
  colormap: null,
  custom_palette: [],
  show_fps: true,
  show_legend: true,
  background: { color: DEFAULT_BACKGROUND },
  smoothing: 0.5,
  mirror: null,
  renderer: "auto",
  display: "auto",
  resolution: [640, 480],
  jpeg_quality: 80,
  max_in_flight: "auto",
  upload_size: "model",
  running: false,
  source_kind: "browser",
  labels: [],
  stats: {},
  error: null,
});

/**
 * A store holding its own values. `set` notifies only when the value changes (compared as
 * JSON, so equal lists do not fire).
 * @param {Record<string, any>} [initial]
 * @returns {SettingsStore}
 */
export function createLocalStore(initial = {}) {
  /** @type {Map<string, any>} */
  const values = new Map(Object.entries({ ...DEFAULT_SETTINGS, ...initial }));
  /** @type {Map<string, Set<(value: any) => void>>} */
  const listeners = new Map();
  return {
    get: (name) => values.get(name),
    set(name, value) {
      if (JSON.stringify(values.get(name)) === JSON.stringify(value)) return;
      values.set(name, value);
      for (const cb of [...(listeners.get(name) || [])]) cb(value);
    },
    on(name, cb) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      const set = /** @type {Set<(value: any) => void>} */ (listeners.get(name));
      set.add(cb);
      return () => set.delete(cb);
    },
  };
}

/**
 * A store over an anywidget model: reads and writes synced traits. Writes apply locally at
 * once; `save_changes` (the round trip to Python) is coalesced over `syncDelayMs` so a
 * dragged slider does not flood the comm.
 * @param {any} model  anywidget model: get, set, save_changes, on, off
 * @param {{syncDelayMs?: number}} [options]
 * @returns {SettingsStore & {flush: () => void}}
 */
export function createModelStore(model, { syncDelayMs = 50 } = {}) {
  /** @type {any} */
  let timer = null;
  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    model.save_changes();
  };
  return {
    get: (name) => model.get(name),
    set(name, value) {
      model.set(name, value);
      if (timer === null) timer = setTimeout(flush, syncDelayMs);
    },
    on(name, cb) {
      const handler = () => cb(model.get(name));
      model.on(`change:${name}`, handler);
      return () => model.off(`change:${name}`, handler);
    },
    flush: () => {
      if (timer !== null) flush();
    },
  };
}
