// The orchestration shared by the widget and the page: builds the UI, runs the capture loop
// (at most `max_in_flight` frames in flight: sized to the link by window.js, or 1 to 8),
// decodes results and draws them every animation frame (over the frames they came from with
// the aligned display: aligned.js). The parts, by job: session-state.js (the DOM and the shared state),
// lifecycle.js (camera and running state), sender.js (the capture loop and its in-flight
// window), handlers.js (the server's messages), painter.js (drawing, stats, legend),
// resume.js (a hidden tab pauses sending; a camera that ends is retried with backoff),
// link.js (the kernel not answering for a while, or gone for good).
//
// For benchmarks and integrations the view's root element (`.segwidget`) dispatches two
// bubbling DOM events (`detail` times are client-clock ms, as `t_capture`):
//   "segwidget:frame"   a frame was sent: {seq, t_capture, t_sent, bytes, width, height,
//                       capture_ms, encode_ms, in_flight, max_in_flight, upload_size,
//                       encoding, capture ("video-frame": the camera's planes; "canvas")}
//   "segwidget:render"  a result was drawn for the first time: {seq, t_capture, t_sent,
//                       t_received, t_rendered, latency_ms, decode_ms, render_ms, server_ms,
//                       timings (the server's per-stage ms), profile, display ("live": over
//                       the video; "aligned": over its own frame), window (frames allowed
//                       in flight)}
//   "segwidget:link"    the link to the kernel / server changed: {state, t} with state
//                       "waiting" (frames unanswered for link.WAIT_MS), "live" (answers
//                       again, or reconnected), "disconnected" (the page's socket closed,
//                       reconnecting) or "lost" (the kernel restarted: re-run the cell)
//
// transport: {send(header, buffers?), onMessage(cb(header, buffers)) -> unsubscribe,
//             isOpen?() -> boolean}
// store:     a SettingsStore (store.js) over the synced traits or a local store.

import { HeldFrames } from "./aligned.js";
import { Banner } from "./banner.js";
import { Camera } from "./capture.js";
import { Controls } from "./controls.js";
import { FrameFlow, maxInFlight } from "./flow.js";
import { handlers, LOAD_ERRORS } from "./handlers.js";
import { Legend, isolateClass } from "./legend.js";
import { lifecycle } from "./lifecycle.js";
import { ReplyWatch } from "./link.js";
import { painter } from "./painter.js";
import { resumeSending, watchVisibility } from "./resume.js";
import { clientNow } from "./protocol.js";
import { sender } from "./sender.js";
import { StageRenderer } from "./stage-renderer.js";
import { buildView, initialState } from "./session-state.js";
import { StatsOverlay } from "./stats.js";
import { ViewEffects } from "./view-effects.js";
import { WindowController, followLink } from "./window.js";

export { LOAD_ERRORS };

/**
 * @typedef {import("./session-state.js").Transport} Transport
 * @typedef {import("./session-state.js").Session} Session
 * @typedef {import("./store.js").SettingsStore} SettingsStore
 */

const NOT_YET = () => {
  throw new Error("segwidget: session part used before it was set up");
};

/**
 * Mount the whole front-end into `el`.
 * @param {{el: HTMLElement, store: SettingsStore, transport: Transport}} options
 * @returns {{destroy: () => void, reset: () => void, banner: Banner,
 *   disconnected: (message: string, options: {final: boolean}) => void, connected: () => void}}
 *   reset(): the transport reconnected; forget frames in flight and wait for a new `ready`.
 *   disconnected(): the channel closed; the page reconnects by itself (`final: false`: the
 *   camera keeps running), a widget whose kernel restarted never does (`final: true`: the
 *   camera is released, the stage says to re-run the cell). connected(): it is back.
 */
export function createSession({ el, store, transport }) {
  const view = buildView(store);
  el.replaceChildren(view.root);
  const state = initialState();

  /** @type {Session} */
  const s = {
    store,
    transport,
    view,
    state,
    banner: new Banner(view.bannerEl),
    statsOverlay: new StatsOverlay(view.statsEl),
    legend: new Legend(view.legendEl, {
      onPick: (label) => store.set("class_filter", isolateClass(store.get("class_filter") || [], label)),
    }),
    effects: new ViewEffects(store, () => {
      state.dirty = true;
    }),
    renderer: new StageRenderer(view),
    window: new WindowController(),
    held: new HeldFrames(),
    controls: /** @type {any} */ (null),
    camera: /** @type {any} */ (null),
    flow: /** @type {any} */ (null),
    watch: /** @type {any} */ (null),
    kernelSource: () => store.get("source_kind") === "kernel",
    frameMs: NOT_YET,
    answered: NOT_YET,
    linkReport: NOT_YET,
    mirrored: () => {
      const track = s.camera && s.camera.stream && s.camera.stream.getVideoTracks()[0];
      const facing = track && track.getSettings ? track.getSettings().facingMode : undefined;
      return s.effects.mirror(s.kernelSource() ? "kernel" : "browser", facing);
    },
    syncOptions: () => {
      // ask for the confidence buffer only while a mode needs it (servers start without)
      const want = s.effects.wantsConfidence();
      if (!state.ready || want === state.confidenceAsked) return;
      state.confidenceAsked = want;
      transport.send({ type: "options", confidence: want });
    },
    labels: () => /** @type {string[]} */ ((state.ready && state.ready.labels) || store.get("labels") || []),
    // Tell listeners on the page (benchmarks, integrations) what happened; see the header.
    emit: (name, detail) => view.root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail })),
    pump: NOT_YET,
    startCamera: NOT_YET,
    updatePlaceholder: NOT_YET,
    updateStatus: NOT_YET,
    updateLegend: NOT_YET,
    reportClientError: NOT_YET,
  };
  s.controls = new Controls(view.toolbar, store, {
    onCamera: (id) => {
      state.deviceId = id || null;
      if (store.get("running")) s.startCamera();
    },
  });
  s.camera = new Camera(view.video, {
    // the track ended (unplugged, taken): keep running, retry with backoff (lifecycle.js)
    onEnded: (err) => life.cameraEnded(err),
  });
  const windowSize = (/** @type {any} */ value) => {
    const setting = maxInFlight(value);
    return setting === "auto" ? s.window.size : setting;
  };
  s.flow = new FrameFlow({
    maxInFlight: windowSize(store.get("max_in_flight")),
    timeoutMs: 2000,
    onTimeout: (frame) => {
      s.held.drop(frame.seq);
      s.pump();
    },
    onClear: () => s.held.clear(),
  });
  const link = (/** @type {string} */ linkState) => s.emit("segwidget:link", { state: linkState, t: clientNow() });
  s.watch = new ReplyWatch({
    active: () => !state.hidden && !state.linkLost && !s.kernelSource() && !!store.get("running") && s.camera.active,
    outstanding: () => s.flow.size > 0,
    onWaiting: () => {
      link("waiting");
      s.updateStatus();
    },
    onResumed: () => {
      link("live");
      s.updateStatus();
      // the round trips across the outage measured the wait, not the link: the window starts
      // afresh, so what was held back does not go out as a burst
      s.window.reset();
      s.flow.maxInFlight = windowSize(store.get("max_in_flight"));
      // what was sent before the kernel answered again is stale: none of it is drawn
      resumeSending(state, { pump: () => s.pump(), flow: s.flow }, clientNow(), 0);
    },
  });
  const { banner, controls, camera, flow, watch } = s;

  Object.assign(s, followLink(s));
  const life = lifecycle(s);
  Object.assign(s, {
    startCamera: life.startCamera,
    updatePlaceholder: life.updatePlaceholder,
    updateStatus: life.updateStatus,
    reportClientError: life.reportClientError,
  });
  s.pump = sender(s);
  const onMessage = handlers(s);
  const paint = painter(s);
  s.updateLegend = paint.updateLegend;

  // ---- wiring ----------------------------------------------------------------------------
  /** @type {(() => void)[]} */
  const cleanups = [];
  const redraw = () => {
    state.look = null;
    state.dirty = true;
    paint.updateLegend();
  };
  for (const name of ["viz_mode", "opacity", "class_filter", "colormap", "custom_palette", "labels"]) {
    cleanups.push(store.on(name, redraw));
  }
  for (const name of ["show_fps", "show_legend"]) cleanups.push(store.on(name, () => paint.updateOverlay(performance.now())));
  cleanups.push(
    store.on("viz_mode", () => {
      // switching to an effect: its alphas from the newest result, until the next one
      const latest = state.latest;
      if (latest && !latest.alphas) latest.alphas = s.effects.onResult(latest.mask, latest.confidence, s.labels());
      s.syncOptions();
    }),
  );
  for (const name of ["mirror", "smoothing", "renderer", "display"]) cleanups.push(store.on(name, () => (state.dirty = true)));
  cleanups.push(() => s.effects.destroy());
  cleanups.push(
    store.on("max_in_flight", (value) => {
      flow.maxInFlight = windowSize(value);
      s.pump();
    }),
  );
  cleanups.push(store.on("running", life.applyRunning));
  cleanups.push(store.on("source_kind", life.applyRunning));
  cleanups.push(
    store.on("resolution", () => {
      if (store.get("running") && !s.kernelSource()) s.startCamera();
    }),
  );
  cleanups.push(
    store.on("error", (err) => {
      // the widget mirrors errors into its `error` trait: do not re-show one already shown
      if (err && err.code) {
        if (!banner.shows(err)) banner.show({ ...err, source: "trait" });
      } else {
        banner.clear("trait");
      }
    }),
  );
  const initialError = store.get("error");
  if (initialError && initialError.code) banner.show({ ...initialError, source: "trait" });
  cleanups.push(transport.onMessage(onMessage));
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    const onDeviceChange = () => life.refreshDevices();
    navigator.mediaDevices.addEventListener("devicechange", onDeviceChange);
    cleanups.push(() => navigator.mediaDevices.removeEventListener("devicechange", onDeviceChange));
  }
  cleanups.push(watchVisibility(state, { pump: () => s.pump(), flow, now: clientNow }, document));
  cleanups.push(life.stopRetrying);
  cleanups.push(() => watch.clear());
  life.applyRunning();
  paint.start();

  function reset() {
    flow.clear();
    watch.clear();
    s.window.reset();
    state.ready = null;
    state.serverStats = {};
    state.loadingProfile = null;
    controls.setLoading(null);
    life.updateStatus();
  }

  return {
    banner,
    reset,
    disconnected(message, { final }) {
      if (state.destroyed || state.linkLost) return;
      reset();
      banner.show({ code: "DISCONNECTED", message, recoverable: !final, source: "transport" });
      if (final) {
        // nothing comes back on this channel: release the camera, show no frozen frame
        state.linkLost = true;
        life.stopCamera();
      }
      link(final ? "lost" : "disconnected");
    },
    connected() {
      if (state.linkLost) return;
      banner.clear("transport");
      link("live");
    },
    destroy() {
      state.destroyed = true;
      paint.stop();
      camera.stop();
      flow.clear();
      s.held.clear();
      if (state.latest && state.latest.frame) state.latest.frame.close();
      cleanups.forEach((c) => c());
      controls.destroy();
      el.replaceChildren();
    },
  };
}
