// anywidget entry: the SegWidget view. Settings are the model's synced traits; frames and
// results travel as custom messages with binary buffers (docs/API_REFERENCE.md).

import { createSession } from "./session.js";
import { createModelStore } from "./store.js";

/**
 * The comm channel as a transport: custom messages out, `msg:custom` in. Buffers arrive as
 * DataView (JupyterLab) or Uint8Array (Colab); the session normalises them.
 * @param {any} model  anywidget model
 * @returns {import("./session.js").Transport}
 */
export function modelTransport(model) {
  return {
    send(header, buffers = []) {
      model.send(header, undefined, buffers);
    },
    onMessage(cb) {
      /** @param {any} msg @param {any[]} [buffers] */
      const handler = (msg, buffers) => {
        if (msg && typeof msg.type === "string") cb(msg, buffers || []);
      };
      model.on("msg:custom", handler);
      return () => model.off("msg:custom", handler);
    },
  };
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    const store = createModelStore(model);
    const transport = modelTransport(model);
    const session = createSession({ el, store, transport });
    transport.send({ type: "hello" });
    return () => {
      store.flush();
      session.destroy();
    };
  },
};
