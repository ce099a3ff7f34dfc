// anywidget entry: the SegWidget view. Settings are the model's synced traits; frames and
// results travel as custom messages with binary buffers (docs/API_REFERENCE.md).

import { createSession } from "./session.js";
import { createModelStore } from "./store.js";

/** What the view says when its kernel restarted (or its comm died otherwise). */
export const LOST_MESSAGE =
  "The kernel restarted or this view lost its connection to it; this view is disconnected. Re-run the cell to stream again.";

/**
 * The comm channel as a transport: custom messages out, `msg:custom` in. Buffers arrive as
 * DataView (JupyterLab) or Uint8Array (Colab); the session normalises them.
 *
 * The comm is lost for good when the kernel restarts: ipywidgets then marks the model's comm
 * dead (`comm_live_update`) and a send on it throws. Either way `onLost` is told once and
 * nothing more is sent (a restarted kernel knows nothing of this widget).
 * @param {any} model  anywidget model
 * @returns {import("./session.js").Transport & {onLost: (cb: () => void) => () => void}}
 */
export function modelTransport(model) {
  let lost = false;
  /** @type {Set<() => void>} */
  const listeners = new Set();
  const lose = () => {
    if (lost) return;
    lost = true;
    for (const cb of [...listeners]) cb();
  };
  return {
    send(header, buffers = []) {
      if (lost) return;
      try {
        model.send(header, undefined, buffers);
      } catch {
        lose(); // "Cannot send": the kernel connection disposed of the comm
      }
    },
    isOpen: () => !lost,
    peer: /** @type {const} */ ("kernel"),
    onMessage(cb) {
      /** @param {any} msg @param {any[]} [buffers] */
      const handler = (msg, buffers) => {
        if (msg && typeof msg.type === "string") cb(msg, buffers || []);
      };
      model.on("msg:custom", handler);
      return () => model.off("msg:custom", handler);
    },
    onLost(cb) {
      listeners.add(cb);
      // ipywidgets' manager sets comm_live to false only when the kernel restarts
      model.on("comm_live_update", lose);
      return () => {
        listeners.delete(cb);
        model.off("comm_live_update", lose);
      };
    },
  };
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    const store = createModelStore(model);
    const transport = modelTransport(model);
    const session = createSession({ el, store, transport });
    const unwatch = transport.onLost(() => session.disconnected(LOST_MESSAGE, { final: true }));
    transport.send({ type: "hello" });
    return () => {
      unwatch();
      store.flush();
      session.destroy();
    };
  },
};
