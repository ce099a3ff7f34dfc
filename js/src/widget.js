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
 * dead (`comm_live_update`) and a send on it throws; Colab's widget manager closes the comm
 * instead (`comm:close`) and then removes the model's views. Either way `onLost` is told once
 * and nothing more is sent (a restarted kernel knows nothing of this widget). A comm that
 * `SegWidget.close()` closes says so first (a `closing` message): `closedByKernel()`.
 * @param {any} model  anywidget model
 * @returns {import("./session.js").Transport & {onLost: (cb: () => void) => () => void,
 *   closedByKernel: () => boolean, lostBy: () => string}}
 */
export function modelTransport(model) {
  let lost = false;
  let closing = false;
  let cause = "";
  /** @type {Set<() => void>} */
  const listeners = new Set();
  const lose = (/** @type {string} */ why) => {
    if (lost) return;
    lost = true;
    cause = why;
    for (const cb of [...listeners]) cb();
  };
  return {
    send(header, buffers = []) {
      if (lost) return;
      try {
        model.send(header, undefined, buffers);
      } catch {
        lose("send"); // "Cannot send": the kernel connection disposed of the comm
      }
    },
    isOpen: () => !lost,
    peer: /** @type {const} */ ("kernel"),
    onMessage(cb) {
      /** @param {any} msg @param {any[]} [buffers] */
      const handler = (msg, buffers) => {
        if (msg && msg.type === "closing") closing = true;
        else if (msg && typeof msg.type === "string") cb(msg, buffers || []);
      };
      model.on("msg:custom", handler);
      return () => model.off("msg:custom", handler);
    },
    onLost(cb) {
      listeners.add(cb);
      // ipywidgets' manager sets comm_live to false only when the kernel restarts
      const dead = () => lose("comm_live_update");
      const closed = () => lose("comm:close");
      model.on("comm_live_update", dead);
      model.on("comm:close", closed);
      return () => {
        listeners.delete(cb);
        model.off("comm_live_update", dead);
        model.off("comm:close", closed);
      };
    },
    closedByKernel: () => closing,
    lostBy: () => cause,
  };
}

/**
 * Leave a still copy of the view in its place: Colab's manager removes the views of a model
 * whose comm closed, so after a kernel restart the output would go blank instead of saying
 * it is disconnected (as it does in JupyterLab, where the view stays).
 * @param {HTMLElement} el
 */
function leaveStillCopy(el) {
  const parent = el.parentNode;
  if (!parent) return;
  const still = /** @type {HTMLElement} */ (el.cloneNode(true));
  still.classList.add("sw-still");
  parent.insertBefore(still, el.nextSibling);
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
      if (transport.lostBy() === "comm:close" && !transport.closedByKernel()) leaveStillCopy(el);
      session.destroy();
    };
  },
};
