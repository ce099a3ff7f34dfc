// The server's messages: `ready` / `connected`, `loading`, `result` (decoded off the draw
// loop, never replacing a newer one), `stats` and `error`.

import { DEFAULT_PROFILES } from "./controls.js";
import { clientNow, decodeMask, toUint8Array } from "./protocol.js";
import { h } from "./util.js";

/** @typedef {import("./session-state.js").Session} Session */
/** @typedef {import("./protocol.js").Header} Header */

/** Errors that end a profile load (or reject the request); the previous profile keeps serving. */
export const LOAD_ERRORS = [
  "UNKNOWN_MODE",
  "WEIGHTS_UNAVAILABLE",
  "MODELS_NOT_INSTALLED",
  "BACKEND_UNAVAILABLE",
  "MODEL_LOAD_FAILED",
];

/**
 * The session's `onMessage(header, buffers)`, for `transport.onMessage`.
 * @param {Session} s
 */
export function handlers(s) {
  const { controls, banner, flow, state, view } = s;

  /** @param {Header} msg */
  function onReady(msg) {
    state.ready = msg;
    state.look = null;
    state.loadingProfile = null;
    controls.setLoading(null);
    banner.clearProfileError();
    const profiles = msg.profiles || msg.available_models;
    controls.setProfiles(Array.isArray(profiles) && profiles.length ? profiles : DEFAULT_PROFILES);
    controls.setLabels(msg.labels || []);
    const info = msg.info || {};
    const weights = String(info.weights || "");
    view.infoEl.replaceChildren(
      h("span", {}, [msg.profile, info.backend, info.device, info.precision].filter(Boolean).join(" · ")),
      /random|untrained/i.test(weights) ? h("span", { class: "sw-badge sw-badge-warn", title: weights }, "untrained weights") : "",
    );
    view.infoEl.title = info.backend_reason || "";
    state.confidenceAsked = false;
    s.syncOptions();
    state.dirty = true;
    s.updateStatus();
    s.pump();
  }

  /**
   * @param {Header} msg
   * @param {Uint8Array[]} buffers
   */
  async function onResult(msg, buffers) {
    const t_received = clientNow();
    const order = ++state.arrivals;
    const sent = typeof msg.seq === "number" ? flow.settle(msg.seq) : null;
    if (sent) s.watch.roundTrip(t_received - sent.t_sent);
    if (msg.quality && typeof msg.quality === "object") state.quality = msg.quality;
    s.answered(sent, msg, t_received); // the in-flight window follows the link (window.js)
    s.pump();
    banner.clearRecoverable();
    const m = msg.mask || {};
    if (!buffers[0]) return;
    // a frame from before a pause (hidden tab, a kernel that did not answer): long gone
    if (!s.kernelSource() && Number(msg.t_capture) < state.staleBefore) return;
    // sent before the camera stopped: the stopped view shows no mask, legend or FPS
    if (!s.kernelSource() && !s.store.get("running")) return;
    // the frame this result was computed from, for the aligned display (aligned.js)
    const held = !s.kernelSource() && typeof msg.seq === "number" ? s.held.take(msg.seq) : null;
    /** @type {ImageBitmap | null} */
    let frame = /** @type {any} */ (held);
    // buffers: the mask, then the confidence when the header has it, then the kernel's frame
    const frameAt = msg.confidence ? 2 : 1;
    try {
      const t0 = performance.now();
      const framePromise =
        msg.frame && buffers[frameAt] && typeof createImageBitmap === "function"
          ? createImageBitmap(new Blob([buffers[frameAt]], { type: "image/jpeg" }))
          : Promise.resolve(null);
      const data = await decodeMask(buffers[0], m.width, m.height, m.encoding || "deflate");
      const c = msg.confidence && buffers[1] ? msg.confidence : null;
      const confidence = c ? await decodeMask(buffers[1], c.width, c.height, c.encoding || "deflate") : null;
      const decode_ms = performance.now() - t0;
      frame = (await framePromise) || frame;
      // results arrive in order but decode concurrently: never replace a newer one
      if (state.destroyed || order < state.applied) {
        if (frame) frame.close();
        return;
      }
      state.applied = order;
      state.means.decode_mask.add(decode_ms, performance.now());
      const latest = state.latest;
      if (latest && latest.frame && latest.frame !== frame) latest.frame.close();
      const mask = { data, width: m.width, height: m.height };
      state.latest = {
        header: msg,
        mask,
        confidence,
        alphas: s.effects.onResult(mask, confidence, s.labels()),
        frame,
        decode_ms,
        t_received,
        t_sent: sent ? sent.t_sent : null,
        rendered: false,
      };
      state.dirty = true;
      state.legendDirty = true; // drawn with the stats, a few times a second: no DOM per frame
      controls.setDetected((msg.classes || []).map((/** @type {[number, number]} */ [i]) => s.labels()[i]).filter(Boolean));
      if (s.kernelSource()) s.updatePlaceholder();
    } catch (err) {
      if (frame) frame.close();
      console.error("segwidget: could not decode a result", err);
    }
  }

  /**
   * @param {Header} msg
   * @param {(ArrayBuffer | ArrayBufferView)[]} buffers  DataView, Uint8Array, ArrayBuffer
   */
  function onMessage(msg, buffers) {
    if (state.destroyed) return;
    s.watch.heard();
    const bufs = (buffers || []).map(toUint8Array);
    switch (msg.type) {
      case "ready":
      case "connected":
        onReady(msg);
        break;
      case "loading":
        banner.clearProfileError(); // a new attempt: it reports again if it fails
        state.loadingProfile = msg.profile || "profile";
        controls.setLoading(state.loadingProfile);
        s.updateStatus();
        break;
      case "result":
        onResult(msg, bufs);
        break;
      case "stats":
        state.serverStats = msg.stats || {};
        break;
      case "error":
        if (typeof msg.seq === "number") {
          flow.settle(msg.seq);
          s.pump();
        }
        if (LOAD_ERRORS.includes(msg.code)) {
          state.loadingProfile = null;
          controls.setLoading(null);
          s.updateStatus();
        }
        // recoverable errors clear when results resume, a failed load when a profile is
        // requested or loads again; the others stay until dismissed
        banner.show({
          code: String(msg.code || "ERROR"),
          message: String(msg.message || ""),
          recoverable: !!msg.recoverable,
          source: "server",
          ...(LOAD_ERRORS.includes(msg.code) && msg.code !== "UNKNOWN_MODE" ? { until: "profile" } : {}),
        });
        break;
      default:
        break;
    }
  }

  return onMessage;
}
