// Standalone page entry (`segwidget serve`): the same session as the widget, over the /ws
// WebSocket, with a local settings store that mirrors changes to the server with the spec's
// `change_mode` / `update_viz` messages.

import { DISPLAYS } from "./aligned.js";
import { packWs, unpackWs } from "./protocol.js";
import { VIZ_MODES } from "./renderer.js";
import { createSession, LOAD_ERRORS } from "./session.js";
import { RENDERERS } from "./stage-renderer.js";
import { createLocalStore } from "./store.js";

/**
 * WebSocket URL of the server that served this page: `ws(s)://<host>/<page dir>/ws`, with the
 * page's `token` query parameter copied over. (At the root that is `ws(s)://<host>/ws`; under a
 * proxy prefix such as /proxy/8000/ the prefix is kept.)
 * @param {{href: string, protocol: string, search: string}} location
 * @returns {string}
 */
export function wsUrl(location) {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  const token = new URLSearchParams(location.search).get("token");
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

/**
 * Settings given in the page URL: ?profile=fast&resolution=1280x720&quality=80&autostart=0
 * (wait for a click on Start; the page starts the camera by itself, as the widget does)
 * and the advanced ones, &in_flight=4 (max_in_flight: auto or 1 to 8), &upload=full (upload_size:
 * model or full), &encoding=jpeg (frame_encoding: auto, jpeg or i420), &adapt=0 and
 * &budget=150 (latency_budget_ms: the server's adaptive quality, sent in `init`);
 * the view's &viz=blur (any viz mode), &mirror=1 or 0 (default: auto) and
 * &background=%2300ff00 (replace's colour) and &renderer=canvas (auto, overlay, canvas or
 * webgl: stage-renderer.js) and &display=aligned (auto, aligned or live: aligned.js)
 * @param {string} search
 * @returns {Record<string, any>}
 */
export function settingsFromQuery(search) {
  const q = new URLSearchParams(search);
  /** @type {Record<string, any>} */
  const out = {};
  const profile = q.get("profile") || q.get("model_mode");
  if (profile) out.profile = profile;
  const res = /^(\d+)x(\d+)$/.exec(q.get("resolution") || "");
  if (res) out.resolution = [Number(res[1]), Number(res[2])];
  const quality = Number(q.get("quality"));
  if (quality >= 1 && quality <= 100) out.jpeg_quality = Math.round(quality);
  const autostart = q.get("autostart");
  if (autostart === "0" || autostart === "1") out.running = autostart === "1";
  const inFlight = q.get("in_flight");
  if (inFlight === "auto") out.max_in_flight = "auto";
  else if (/^[1-8]$/.test(inFlight || "")) out.max_in_flight = Number(inFlight);
  const upload = q.get("upload");
  if (upload === "model" || upload === "full") out.upload_size = upload;
  const encoding = q.get("encoding");
  if (encoding === "auto" || encoding === "jpeg" || encoding === "i420") out.frame_encoding = encoding;
  if (q.get("adapt") === "0" || q.get("adapt") === "1") out.adapt = q.get("adapt") === "1";
  const budget = Number(q.get("budget"));
  if (budget >= 20) out.latency_budget_ms = budget;
  const viz = q.get("viz");
  if (viz && /** @type {string[]} */ (VIZ_MODES).includes(viz)) out.viz_mode = viz;
  const mirror = q.get("mirror");
  if (mirror === "1" || mirror === "0") out.mirror = mirror === "1";
  const renderer = q.get("renderer");
  if (renderer && RENDERERS.includes(renderer)) out.renderer = renderer;
  const display = q.get("display");
  if (display && DISPLAYS.includes(display)) out.display = display;
  const bg = q.get("background");
  if (bg && /^#[0-9a-f]{6}$/i.test(bg)) out.background = { color: bg.toLowerCase() };
  return out;
}

/**
 * The spec's `init` message for the current settings.
 * @param {import("./store.js").SettingsStore} store
 */
export function initMessage(store) {
  const [width, height] = store.get("resolution") || [640, 480];
  /** @type {Record<string, any>} */
  const config = { binary: true, resolution: { width, height } };
  const profile = store.get("profile");
  if (profile) config.model_mode = profile;
  const adapt = store.get("adapt");
  if (typeof adapt === "boolean") config.adapt = adapt;
  const budget = store.get("latency_budget_ms");
  if (typeof budget === "number") config.latency_budget_ms = budget;
  return { type: "init", config };
}

/**
 * The spec's `update_viz` message for the current settings (sent when the user changes them;
 * the rendering itself happens here, this keeps the server's copy in step).
 * @param {import("./store.js").SettingsStore} store
 */
export function updateVizMessage(store) {
  const filter = store.get("class_filter") || [];
  /** @type {Record<string, any>} */
  const settings = {
    overlay_opacity: Number(store.get("opacity")),
    visualization_mode: store.get("viz_mode"),
    class_filter: filter.length ? filter : null,
  };
  const colormap = store.get("colormap");
  if (colormap) settings.colormap = colormap;
  const custom = store.get("custom_palette") || [];
  if (colormap === "custom" && custom.length) settings.custom_colormap = custom;
  return { type: "update_viz", settings };
}

/**
 * A reconnecting WebSocket speaking the binary protocol.
 */
class WsTransport {
  /**
   * @param {string} url
   * @param {{onOpen: () => void, onClose: () => void}} hooks
   */
  constructor(url, hooks) {
    this.url = url;
    this.hooks = hooks;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {Set<(header: any, buffers: Uint8Array[]) => void>} */
    this.listeners = new Set();
    this.retryMs = 500;
    /** @type {any} */
    this.timer = null;
    this.closed = false;
    /** who answers the frames (link.js's waiting state names it) */
    this.peer = /** @type {const} */ ("server");
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      this.retryMs = 500;
      this.hooks.onOpen();
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = unpackWs(ev.data);
      } catch (err) {
        console.warn("segwidget: ignoring a malformed message", err);
        return;
      }
      for (const cb of this.listeners) cb(msg.header, msg.buffers);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.hooks.onClose();
      if (!this.closed) {
        this.timer = setTimeout(() => this.connect(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 8000);
      }
    };
    this.ws = ws;
  }

  isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * @param {any} header
   * @param {Uint8Array[]} [buffers]
   */
  send(header, buffers = []) {
    if (this.ws && this.isOpen()) this.ws.send(/** @type {any} */ (packWs(header, buffers)));
  }

  /** @param {(header: any, buffers: Uint8Array[]) => void} cb */
  onMessage(cb) {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }
}

/**
 * The page's settings: the URL's over the page's defaults. It starts the camera by itself
 * like the widget (`running`); a browser that refuses leaves the Start button and says why.
 * @param {string} search
 */
export function pageSettings(search) {
  return { running: true, ...settingsFromQuery(search) };
}

/**
 * Mount the page into `el` and connect.
 * @param {HTMLElement} el
 * @param {{href: string, protocol: string, search: string}} [loc]
 */
export function mountPage(el, loc = window.location) {
  const store = createLocalStore(pageSettings(loc.search));
  const status = document.getElementById("sw-conn");
  const setStatus = (/** @type {string} */ text, /** @type {string} */ state) => {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  };
  let fromServer = false;
  let reconnecting = false;
  let colormapChosen = !!store.get("colormap");

  /** @type {ReturnType<typeof createSession> | null} */
  let session = null;
  const transport = new WsTransport(wsUrl(loc), {
    onOpen() {
      setStatus("connected", "open");
      if (session) session.connected();
      transport.send(initMessage(store));
      // after a reconnect the server is a new session: give it this page's settings again
      if (reconnecting) transport.send(updateVizMessage(store));
      reconnecting = true;
    },
    onClose() {
      setStatus("reconnecting…", "closed");
      if (session) session.disconnected("Lost the connection to the server; reconnecting…", { final: false });
    },
  });

  // The server's own state (profile actually serving, its default colormap) flows into the
  // store without being echoed back.
  /** @type {string | null} */
  let serving = null;
  transport.onMessage((msg) => {
    if (msg.type === "error" && serving && LOAD_ERRORS.includes(msg.code)) {
      // a switch failed and the previous profile keeps serving: show that one again
      fromServer = true;
      store.set("profile", serving);
      fromServer = false;
      return;
    }
    if (msg.type !== "ready" && msg.type !== "connected") return;
    if (msg.profile) serving = msg.profile;
    fromServer = true;
    try {
      if (msg.profile) store.set("profile", msg.profile);
      if (Array.isArray(msg.labels)) store.set("labels", msg.labels);
      // (`connected` of the spec protocol carries default_colormap as an object and the
      // palette's name in `colormap`; `ready` names it in default_colormap)
      const name = typeof msg.default_colormap === "string" ? msg.default_colormap : msg.colormap;
      if (!colormapChosen && typeof name === "string") store.set("colormap", name);
    } finally {
      fromServer = false;
    }
  });
  session = createSession({ el, store, transport });

  store.on("profile", (profile) => {
    if (!fromServer && profile) transport.send({ type: "change_mode", model_mode: profile });
  });
  /** @type {any} */
  let vizTimer = null;
  for (const name of ["viz_mode", "opacity", "class_filter", "colormap"]) {
    store.on(name, () => {
      if (fromServer) return;
      if (name === "colormap") colormapChosen = true;
      clearTimeout(vizTimer);
      vizTimer = setTimeout(() => transport.send(updateVizMessage(store)), 100);
    });
  }
  setStatus("connecting…", "connecting");
  transport.connect();
  return {
    store,
    destroy() {
      clearTimeout(vizTimer);
      transport.close();
      if (session) session.destroy();
    },
  };
}

if (typeof document !== "undefined") {
  const el = document.getElementById("app");
  if (el) mountPage(el);
}
