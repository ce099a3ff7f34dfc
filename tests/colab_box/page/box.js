// The Colab box's notebook page: what Colab's outer frame does for widgets, over a real kernel.
// It holds the kernel's WebSocket (Jupyter Server's, the default binary framing), runs cells,
// and shows each output in its own cross-origin <iframe> (output.html on 127.0.0.2), as
// Colab does. Output frames reach the kernel only through postMessage to this page, which
// plays google.colab.kernel.comms: open / send (a promise per message) / messages / close.
// Like Colab it keeps each widget model's state from its comm_open and later updates, and
// drops the binary buffers of a comm_open (colab-cdn-widget-manager issue #33).

const q = new URLSearchParams(location.search);
const KERNEL = q.get("kernel");
const TOKEN = q.get("token");
const OUTPUT_ORIGIN = q.get("output_origin"); // e.g. http://127.0.0.2:PORT
const session = crypto.randomUUID();

/** comm id -> {target, state, meta, frames: Set<Window>, open} */
const comms = new Map();
/** msg_id of an execute_request -> {resolve, outputs, cell} */
const pending = new Map();
const log = [];
let ws;
let cellCount = 0;

function header(msgType) {
  return { msg_id: crypto.randomUUID(), username: "colab-box", session, msg_type: msgType, version: "5.3", date: new Date().toISOString() };
}

// Jupyter Server's kernel WebSocket framing without a subprotocol: JSON text, or for a
// message with buffers [n u32][offsets u32 x n][json][buffers...] (big-endian).
function serialize(msg, buffers) {
  if (!buffers || !buffers.length) return JSON.stringify({ ...msg, buffers: [] });
  const parts = [new TextEncoder().encode(JSON.stringify(msg)), ...buffers.map((b) => new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength))];
  const n = parts.length;
  const offsets = [4 * (n + 1)];
  for (let i = 0; i + 1 < n; i++) offsets.push(offsets[i] + parts[i].byteLength);
  const out = new Uint8Array(offsets[n - 1] + parts[n - 1].byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, n);
  parts.forEach((p, i) => { view.setUint32(4 * (i + 1), offsets[i]); out.set(p, offsets[i]); });
  return out.buffer;
}

function deserialize(data) {
  if (typeof data === "string") return { msg: JSON.parse(data), buffers: [] };
  const view = new DataView(data);
  const n = view.getUint32(0);
  const offsets = [];
  for (let i = 0; i < n; i++) offsets.push(view.getUint32(4 * (i + 1)));
  offsets.push(data.byteLength);
  const msg = JSON.parse(new TextDecoder().decode(new Uint8Array(data, offsets[0], offsets[1] - offsets[0])));
  const buffers = [];
  for (let i = 1; i < n; i++) buffers.push(data.slice(offsets[i], offsets[i + 1]));
  return { msg, buffers };
}

function send(channel, msgType, content, buffers = [], metadata = {}) {
  if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error("the kernel is not connected");
  const msg = { header: header(msgType), parent_header: {}, metadata, content, channel };
  ws.send(serialize(msg, buffers));
  return msg.header.msg_id;
}

function connect() {
  return new Promise((resolve, reject) => {
    const url = `ws://${location.host}/api/kernels/${KERNEL}/channels?session_id=${session}&token=${TOKEN}`;
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error("kernel WebSocket failed"));
    ws.onmessage = (ev) => {
      const size = typeof ev.data === "string" ? ev.data.length : ev.data.byteLength;
      window.box.largest = Math.max(window.box.largest, size);
      onKernelMessage(deserialize(ev.data));
    };
  });
}

function closeComm(commId) {
  const c = comms.get(commId);
  if (!c || !c.open) return;
  c.open = false;
  for (const frame of c.frames) frame.postMessage({ box: "closed", commId }, OUTPUT_ORIGIN);
}

function onKernelMessage({ msg, buffers }) {
  const type = msg.header.msg_type;
  const c = msg.content;
  if (type === "comm_open") {
    // Colab keeps the state, not the buffers (colab-cdn-widget-manager issue #33).
    if (buffers.length) log.push(`comm_open ${c.comm_id}: ${buffers.length} buffer(s) dropped`);
    const data = c.data || {};
    comms.set(c.comm_id, { target: c.target_name, state: { ...(data.state || {}) }, open: true, frames: new Set() });
  } else if (type === "comm_msg") {
    const entry = comms.get(c.comm_id);
    if (!entry) return;
    const data = c.data || {};
    if (data.method === "update" && data.state) {
      const paths = (data.buffer_paths || []).map((p) => p.join("."));
      for (const [k, v] of Object.entries(data.state)) if (!paths.some((p) => p.startsWith(k))) entry.state[k] = v;
    }
    for (const frame of entry.frames) frame.postMessage({ box: "msg", commId: c.comm_id, data, buffers }, OUTPUT_ORIGIN);
  } else if (type === "comm_close") {
    closeComm(c.comm_id);
  } else if (type === "status" && c.execution_state === "restarting") {
    // A restarted kernel has none of the old comms: they are closed.
    for (const id of comms.keys()) closeComm(id);
    log.push("kernel restarting");
  }
  const parent = msg.parent_header && msg.parent_header.msg_id;
  const run = parent && pending.get(parent);
  if (!run) return;
  if (["display_data", "execute_result", "stream", "error"].includes(type)) run.outputs.push({ type, content: c });
  if (type === "display_data" || type === "execute_result") renderOutput(run, c);
  if (type === "stream") run.cell.querySelector(".out").append(document.createTextNode(c.text));
  if (type === "error") run.cell.querySelector(".out").append(document.createTextNode(`${c.ename}: ${c.evalue}\n`));
  if (type === "execute_reply") run.reply = c;
  if (type === "status" && c.execution_state === "idle") run.idle = true;
  // done when both the shell's reply and the iopub's idle have come (in either order)
  if (run.reply !== undefined && run.idle) {
    pending.delete(parent);
    const error = run.reply.status === "error" ? `${run.reply.ename}: ${run.reply.evalue}` : null;
    run.resolve({ status: run.reply.status, outputs: run.outputs, error });
  }
}

let frameCount = 0;
function renderOutput(run, content) {
  const data = content.data || {};
  const view = data["application/vnd.jupyter.widget-view+json"];
  if (!view) {
    if (data["text/plain"]) run.cell.querySelector(".out").append(document.createTextNode(data["text/plain"] + "\n"));
    return;
  }
  const meta = (content.metadata || {})["application/vnd.jupyter.widget-view+json"] || {};
  const url = meta.colab && meta.colab.custom_widget_manager && meta.colab.custom_widget_manager.url;
  const id = `output-${++frameCount}`;
  const frame = document.createElement("iframe");
  frame.id = id;
  frame.className = "output-frame";
  frame.allow = "camera; microphone";
  frame.src = `${OUTPUT_ORIGIN}/colab-box/output.html?id=${id}&parent=${encodeURIComponent(location.origin)}`;
  frame.dataset.modelId = view.model_id;
  frame.dataset.managerUrl = url || "";
  run.cell.append(frame);
  log.push(`output ${id}: model ${view.model_id}, manager ${url || "(none: Colab shows no widget)"}`);
}

// Requests from output frames: they name themselves with the id in their URL.
window.addEventListener("message", (ev) => {
  if (ev.origin !== OUTPUT_ORIGIN) return;
  const m = ev.data || {};
  const frameEl = document.getElementById(m.frame);
  if (!frameEl || frameEl.contentWindow !== ev.source) return;
  const reply = (result, error) => ev.source.postMessage({ box: "reply", id: m.id, result, error }, OUTPUT_ORIGIN);
  try {
    if (m.op === "hello") {
      reply({ modelId: frameEl.dataset.modelId, managerUrl: frameEl.dataset.managerUrl });
    } else if (m.op === "getModelState") {
      const c = comms.get(m.modelId);
      if (!c) return reply(undefined);
      c.frames.add(ev.source);
      reply({ state: c.state, open: c.open });
    } else if (m.op === "open") {
      const commId = crypto.randomUUID();
      comms.set(commId, { target: m.target, state: {}, open: true, frames: new Set([ev.source]) });
      send("shell", "comm_open", { comm_id: commId, target_name: m.target, data: m.data || {} }, m.buffers || []);
      reply({ commId });
    } else if (m.op === "send") {
      const c = comms.get(m.commId);
      if (!c || !c.open) return reply(undefined, "comm closed");
      send("shell", "comm_msg", { comm_id: m.commId, data: m.data }, m.buffers || []);
      reply(true);
    } else if (m.op === "close") {
      const c = comms.get(m.commId);
      if (c && c.open) send("shell", "comm_close", { comm_id: m.commId, data: {} });
      closeComm(m.commId);
      reply(true);
    }
  } catch (err) {
    reply(undefined, String(err && err.message));
  }
});

/** Run one cell as Colab does: a cell element, its text outputs, a frame per widget output. */
function run(code) {
  const cell = document.createElement("div");
  cell.className = "cell";
  cell.dataset.index = String(++cellCount);
  const src = document.createElement("pre");
  src.className = "src";
  src.textContent = code;
  const out = document.createElement("pre");
  out.className = "out";
  cell.append(src, out);
  document.getElementById("cells").append(cell);
  return new Promise((resolve) => {
    const id = send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    pending.set(id, { resolve, outputs: [], cell });
  });
}

/** Restart the kernel as Colab's "Restart session" does: the page asks for it, so it knows
 * every comm of the old kernel is gone and closes them (their message streams end). */
async function restart() {
  log.push("kernel restart requested");
  for (const id of comms.keys()) closeComm(id);
  const r = await fetch(`/api/kernels/${KERNEL}/restart?token=${TOKEN}`, { method: "POST" });
  if (!r.ok) throw new Error(`restart failed: ${r.status}`);
  return true;
}

window.box = { run, restart, log, comms, largest: 0 };
window.box.ready = connect().then(() => true);
