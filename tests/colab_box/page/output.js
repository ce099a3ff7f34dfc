// One output of the Colab box, in its own cross-origin frame as in Colab: it loads the widget
// manager named in the output's metadata (Colab's colab-cdn-widget-manager, built from
// tests/colab_box/vendor) and hands it a WidgetEnvironment (its src/api.ts) whose kernel is
// the notebook page, reached by postMessage (Colab's google.colab.kernel.comms).

const q = new URLSearchParams(location.search);
const FRAME = q.get("id");
const PARENT = q.get("parent");
let nextId = 0;
const calls = new Map();
/** comm id -> Set of subscriber queues; closed comm ids */
const subscribers = new Map();
const closed = new Set();

function rpc(op, args = {}) {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    calls.set(id, { resolve, reject });
    parent.postMessage({ frame: FRAME, id, op, ...args }, PARENT);
  });
}

function deliver(commId, item) {
  for (const sub of subscribers.get(commId) || []) sub.push(item);
}

window.addEventListener("message", (ev) => {
  if (ev.origin !== PARENT || ev.source !== parent) return;
  const m = ev.data || {};
  if (m.box === "reply") {
    const call = calls.get(m.id);
    calls.delete(m.id);
    if (call) (m.error ? call.reject(new Error(m.error)) : call.resolve(m.result));
  } else if (m.box === "msg") {
    deliver(m.commId, { data: m.data, buffers: m.buffers });
  } else if (m.box === "closed") {
    closed.add(m.commId);
    deliver(m.commId, null);
  }
});

/** An async iterable of a comm's messages: each iteration gets every later message. */
function messagesOf(commId) {
  return {
    [Symbol.asyncIterator]() {
      const queue = [];
      let wake = null;
      const sub = {
        push(item) {
          queue.push(item);
          if (wake) wake();
        },
      };
      if (!subscribers.has(commId)) subscribers.set(commId, new Set());
      subscribers.get(commId).add(sub);
      if (closed.has(commId)) queue.push(null);
      return {
        async next() {
          while (!queue.length) await new Promise((r) => (wake = r));
          wake = null;
          const item = queue.shift();
          if (item === null) {
            subscribers.get(commId).delete(sub);
            return { done: true, value: undefined };
          }
          return { done: false, value: item };
        },
        async return() {
          subscribers.get(commId).delete(sub);
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** @returns {import("../vendor/colab-cdn-widget-manager/src/api").IComm} */
function commFor(commId) {
  return {
    send: (data, opts) => rpc("send", { commId, data, buffers: (opts && opts.buffers) || [] }),
    close: () => void rpc("close", { commId }),
    messages: messagesOf(commId),
  };
}

const environment = {
  async getModelState(modelId) {
    const r = await rpc("getModelState", { modelId });
    if (!r) return undefined;
    const s = r.state;
    return {
      modelName: s._model_name,
      modelModule: s._model_module,
      modelModuleVersion: s._model_module_version,
      state: s,
      comm: r.open ? commFor(modelId) : undefined,
    };
  },
  async openCommChannel(targetName, data, buffers) {
    const { commId } = await rpc("open", { target: targetName, data, buffers: buffers || [] });
    return commFor(commId);
  },
  async renderOutput(outputItem, destination) {
    const data = (outputItem && outputItem.data) || {};
    destination.textContent = data["text/plain"] || outputItem.text || JSON.stringify(outputItem);
  },
};

async function main() {
  const el = document.getElementById("output");
  const { modelId, managerUrl } = await rpc("hello");
  if (!managerUrl) {
    el.textContent = "(no custom widget manager in this output's metadata: Colab shows nothing)";
    return;
  }
  const mod = await import(managerUrl);
  const manager = mod.createWidgetManager(environment);
  await manager.render(modelId, el);
  document.body.dataset.rendered = "1";
}

main().catch((err) => {
  console.error("colab box output:", err);
  document.body.dataset.error = String((err && err.stack) || err);
  document.getElementById("output").textContent = `output error: ${err}`;
});
