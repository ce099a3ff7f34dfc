// The orchestration shared by the widget and the page: builds the UI, runs the capture loop
// (at most `max_in_flight` frames in flight, 1 or 2), decodes results and draws them every
// animation frame.
//
// For benchmarks and integrations the view's root element (`.segwidget`) dispatches two
// bubbling DOM events (`detail` times are client-clock ms, as `t_capture`):
//   "segwidget:frame"   a frame was sent: {seq, t_capture, t_sent, bytes, width, height,
//                       capture_ms, encode_ms, in_flight, max_in_flight, upload_size}
//   "segwidget:render"  a result was drawn for the first time: {seq, t_capture, t_sent,
//                       t_received, t_rendered, latency_ms, decode_ms, render_ms, server_ms,
//                       timings (the server's per-stage ms), profile}
//
// transport: {send(header, buffers?), onMessage(cb(header, buffers)) -> unsubscribe,
//             isOpen?() -> boolean}
// store:     a SettingsStore (store.js) over the synced traits or a local store.

import { Banner } from "./banner.js";
import { Camera, cameraError } from "./capture.js";
import { Controls, DEFAULT_PROFILES } from "./controls.js";
import { FrameFlow, makeFeedback, maxInFlight, uploadSide } from "./flow.js";
import { Legend, legendEntries } from "./legend.js";
import { buildLut, filterIndices, resolvePalette } from "./palette.js";
import { clientNow, decodeMask, toUint8Array } from "./protocol.js";
import { CanvasRenderer } from "./renderer.js";
import { CLIENT_STAGES, StatsOverlay } from "./stats.js";
import { RollingMean, h } from "./util.js";

/**
 * @typedef {import("./store.js").SettingsStore} SettingsStore
 * @typedef {import("./protocol.js").Header} Header
 * @typedef {{send: (header: Header, buffers?: Uint8Array[]) => void,
 *   onMessage: (cb: (header: Header, buffers: (ArrayBuffer | ArrayBufferView)[]) => void) => () => void,
 *   isOpen?: () => boolean}} Transport
 */

/**
 * @typedef {object} MaskState  the newest decoded result
 * @property {Header} header
 * @property {{data: Uint8Array, width: number, height: number}} mask
 * @property {ImageBitmap | null} frame  kernel-side source: the frame the mask belongs to
 * @property {number} decode_ms
 * @property {number} t_received
 * @property {number | null} t_sent
 * @property {boolean} rendered
 */

const round1 = (/** @type {number} */ x) => Math.round(x * 10) / 10;

/** Errors that end a profile load (or reject the request); the previous profile keeps serving. */
export const LOAD_ERRORS = ["UNKNOWN_MODE", "WEIGHTS_UNAVAILABLE", "BACKEND_UNAVAILABLE", "MODEL_LOAD_FAILED"];

/**
 * Mount the whole front-end into `el`.
 * @param {{el: HTMLElement, store: SettingsStore, transport: Transport}} options
 * @returns {{destroy: () => void, reset: () => void, banner: Banner}}
 *   reset(): the transport reconnected; forget frames in flight and wait for a new `ready`.
 */
export function createSession({ el, store, transport }) {
  // ---- DOM -------------------------------------------------------------------------------
  const toolbar = h("div", { class: "sw-toolbar" });
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "sw-canvas" }));
  const video = /** @type {HTMLVideoElement} */ (h("video", { class: "sw-video", muted: true, playsinline: true, autoplay: true }));
  const statsEl = h("div", { class: "sw-stats" });
  const bannerEl = h("div", { class: "sw-banner" });
  const statusEl = h("div", { class: "sw-status" });
  const placeholderText = h("p", {});
  const placeholderBtn = h("button", { class: "sw-btn sw-primary", type: "button", onclick: () => store.set("running", true) }, "▶ Start camera");
  const placeholder = h("div", { class: "sw-placeholder" }, placeholderText, placeholderBtn);
  const legendEl = h("ul", { class: "sw-legend" });
  const infoEl = h("div", { class: "sw-info" });
  const stage = h("div", { class: "sw-stage" }, canvas, video, placeholder, statsEl, statusEl, bannerEl);
  const root = h("div", { class: "segwidget" }, toolbar, stage, h("div", { class: "sw-footer" }, legendEl, infoEl));
  el.replaceChildren(root);

  const banner = new Banner(bannerEl);
  const statsOverlay = new StatsOverlay(statsEl);
  const legend = new Legend(legendEl);
  const renderer = new CanvasRenderer(canvas);
  /** @type {string | null} */
  let deviceId = null;
  const controls = new Controls(toolbar, store, {
    onCamera: (id) => {
      deviceId = id || null;
      if (store.get("running")) startCamera();
    },
  });
  const camera = new Camera(video, {
    onEnded: (err) => {
      reportClientError(err);
      store.set("running", false);
    },
  });

  // ---- state -----------------------------------------------------------------------------
  /** @type {Header | null} */
  let ready = null;
  /** @type {MaskState | null} */
  let latest = null;
  let seq = 0;
  let arrivals = 0; // results received
  let applied = 0; // arrival number of the result in `latest`
  /** @type {Record<string, any> | null} feedback about the last rendered result, for the next frame */
  let feedback = null;
  /** @type {Record<string, any>} */
  let serverStats = {};
  let clientErrorReported = false;
  let destroyed = false;
  let pumping = false;
  let dirty = true;
  let raf = 0;
  let lastOverlay = 0;
  /** Colour LUT, palette and visible classes; null when a setting they depend on changed.
   * @type {{lut: Uint8Array, keep: Set<number> | null, palette: number[][]} | null} */
  let look = null;
  const means = Object.fromEntries(CLIENT_STAGES.map((k) => [k, new RollingMean(1000)]));
  const latencyMean = new RollingMean(1000);
  const resultRate = new RollingMean(1000);
  const flow = new FrameFlow({
    maxInFlight: maxInFlight(store.get("max_in_flight")),
    timeoutMs: 2000,
    onTimeout: () => pump(),
  });
  /** @type {(() => void)[]} */
  const cleanups = [];

  /**
   * Tell listeners on the page (benchmarks, integrations) what happened; see the header.
   * @param {string} name
   * @param {Record<string, any>} detail
   */
  const emit = (name, detail) => root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));

  const kernelSource = () => store.get("source_kind") === "kernel";
  const labels = () => /** @type {string[]} */ ((ready && ready.labels) || store.get("labels") || []);

  function currentLook() {
    if (!look) {
      const fallback = ready && (typeof ready.default_colormap === "string" ? ready.default_colormap : ready.colormap);
      const colormap = store.get("colormap") || fallback || "voc";
      const palette = resolvePalette(colormap, ready && ready.palettes, store.get("custom_palette"));
      const keep = filterIndices(store.get("class_filter"), labels());
      look = { lut: buildLut(palette, keep), keep, palette };
    }
    return look;
  }

  // ---- errors ----------------------------------------------------------------------------
  /** @param {{code: string, message: string, recoverable: boolean}} err */
  function reportClientError(err) {
    banner.show({ ...err, source: "client" });
    transport.send({ type: "client_error", code: err.code, message: err.message, recoverable: err.recoverable });
    clientErrorReported = true;
  }

  function clearClientError() {
    banner.clear("client");
    if (clientErrorReported) transport.send({ type: "client_error", code: null });
    clientErrorReported = false;
  }

  // ---- camera ----------------------------------------------------------------------------
  let cameraStarting = false;
  async function startCamera() {
    if (kernelSource() || destroyed) return;
    cameraStarting = true;
    updatePlaceholder();
    const [w, hgt] = store.get("resolution") || [640, 480];
    try {
      await camera.start({ deviceId, width: w, height: hgt });
    } catch (err) {
      cameraStarting = false;
      const e = /** @type {any} */ (err);
      reportClientError(e && typeof e.code === "string" ? e : cameraError(e));
      store.set("running", false);
      updatePlaceholder();
      return;
    }
    cameraStarting = false;
    if (destroyed || !store.get("running")) {
      camera.stop();
      return;
    }
    clearClientError();
    refreshDevices();
    dirty = true;
    updatePlaceholder();
    pump();
  }

  function stopCamera() {
    camera.stop();
    flow.clear();
    latest = null;
    dirty = true;
    renderer.clear();
    updateLegend();
    updatePlaceholder();
  }

  async function refreshDevices() {
    try {
      const devices = await camera.listDevices();
      const track = camera.stream && camera.stream.getVideoTracks()[0];
      const current = (track && track.getSettings && track.getSettings().deviceId) || deviceId;
      controls.setDevices(devices, current || null);
    } catch {
      // enumerateDevices is best effort: the picker just stays as it was
    }
  }

  function applyRunning() {
    if (kernelSource()) {
      camera.stop();
    } else if (store.get("running")) {
      if (!camera.stream && !cameraStarting) startCamera();
    } else {
      stopCamera();
    }
    controls.setSourceKind(kernelSource() ? "kernel" : "browser");
    updatePlaceholder();
  }

  function updatePlaceholder() {
    const running = !!store.get("running");
    let text = "";
    let showButton = false;
    if (kernelSource()) {
      if (!latest) text = running ? "Waiting for frames from the kernel…" : "Stopped. Press Start to stream from the kernel source.";
      showButton = !running;
    } else if (!running) {
      text = "Press Start to segment your camera live.";
      showButton = true;
    } else if (cameraStarting || !camera.active) {
      text = "Starting the camera… allow access if the browser asks.";
    }
    placeholderText.textContent = text;
    placeholderBtn.hidden = !showButton;
    placeholderBtn.textContent = kernelSource() ? "▶ Start" : "▶ Start camera";
    placeholder.hidden = !text;
    canvas.hidden = !!text;
    stage.classList.toggle("sw-empty", !!text);
    updateStatus();
  }

  let loadingProfile = /** @type {string | null} */ (null);
  function updateStatus() {
    let text = "";
    if (loadingProfile) text = `Loading ${loadingProfile}…`;
    else if (!ready && store.get("running")) text = "Waiting for the model…";
    statusEl.textContent = text;
    statusEl.hidden = !text;
  }

  // ---- capture loop ----------------------------------------------------------------------
  const canCapture = () =>
    !destroyed &&
    !kernelSource() &&
    !!store.get("running") &&
    !!ready &&
    Number(ready.input_size) > 0 &&
    camera.active &&
    (!transport.isOpen || transport.isOpen());

  async function pump() {
    if (pumping) return;
    pumping = true;
    try {
      while (canCapture() && flow.canSend()) {
        await camera.nextFrame();
        if (!canCapture() || !flow.canSend()) break;
        const uploadSize = store.get("upload_size") || "model";
        const side = uploadSide(uploadSize, Number(/** @type {Header} */ (ready).input_size));
        const grab = await camera.grab(side, store.get("jpeg_quality"));
        if (!grab || !canCapture()) break;
        seq += 1;
        /** @type {Header} */
        const header = {
          type: "frame",
          seq,
          t_capture: grab.t_capture,
          width: grab.width,
          height: grab.height,
          client: { capture_ms: round1(grab.capture_ms), encode_ms: round1(grab.encode_ms) },
        };
        if (feedback) header.feedback = feedback;
        feedback = null;
        const now = performance.now();
        means.capture.add(grab.capture_ms, now);
        means.encode.add(grab.encode_ms, now);
        const t_sent = clientNow();
        flow.begin({ seq, t_capture: grab.t_capture, t_sent });
        transport.send(header, [grab.bytes]);
        emit("segwidget:frame", {
          seq,
          t_capture: grab.t_capture,
          t_sent,
          bytes: grab.bytes.length,
          width: grab.width,
          height: grab.height,
          capture_ms: grab.capture_ms,
          encode_ms: grab.encode_ms,
          in_flight: flow.size,
          max_in_flight: flow.maxInFlight,
          upload_size: uploadSize,
        });
      }
    } catch (err) {
      console.error("segwidget: capture failed", err);
    } finally {
      pumping = false;
    }
  }

  // ---- messages --------------------------------------------------------------------------
  /** @param {Header} msg */
  function onReady(msg) {
    ready = msg;
    look = null;
    loadingProfile = null;
    controls.setLoading(null);
    const profiles = msg.profiles || msg.available_models;
    controls.setProfiles(Array.isArray(profiles) && profiles.length ? profiles : DEFAULT_PROFILES);
    controls.setLabels(msg.labels || []);
    const info = msg.info || {};
    const weights = String(info.weights || "");
    infoEl.replaceChildren(
      h("span", {}, [msg.profile, info.backend, info.device, info.precision].filter(Boolean).join(" · ")),
      /random|untrained/i.test(weights) ? h("span", { class: "sw-badge sw-badge-warn", title: weights }, "untrained weights") : "",
    );
    infoEl.title = info.backend_reason || "";
    dirty = true;
    updateStatus();
    pump();
  }

  /**
   * @param {Header} msg
   * @param {Uint8Array[]} buffers
   */
  async function onResult(msg, buffers) {
    const t_received = clientNow();
    const order = ++arrivals;
    const sent = typeof msg.seq === "number" ? flow.settle(msg.seq) : null;
    pump();
    banner.clearRecoverable();
    const m = msg.mask || {};
    if (!buffers[0]) return;
    /** @type {ImageBitmap | null} */
    let frame = null;
    try {
      const t0 = performance.now();
      const framePromise =
        msg.frame && buffers[1] && typeof createImageBitmap === "function"
          ? createImageBitmap(new Blob([buffers[1]], { type: "image/jpeg" }))
          : Promise.resolve(null);
      const data = await decodeMask(buffers[0], m.width, m.height, m.encoding || "deflate");
      const decode_ms = performance.now() - t0;
      frame = await framePromise;
      // results arrive in order but decode concurrently: never replace a newer one
      if (destroyed || order < applied) {
        if (frame) frame.close();
        return;
      }
      applied = order;
      means.decode_mask.add(decode_ms, performance.now());
      if (latest && latest.frame && latest.frame !== frame) latest.frame.close();
      latest = {
        header: msg,
        mask: { data, width: m.width, height: m.height },
        frame,
        decode_ms,
        t_received,
        t_sent: sent ? sent.t_sent : null,
        rendered: false,
      };
      dirty = true;
      updateLegend();
      controls.setDetected((msg.classes || []).map((/** @type {[number, number]} */ [i]) => labels()[i]).filter(Boolean));
      if (kernelSource()) updatePlaceholder();
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
    if (destroyed) return;
    const bufs = (buffers || []).map(toUint8Array);
    switch (msg.type) {
      case "ready":
      case "connected":
        onReady(msg);
        break;
      case "loading":
        loadingProfile = msg.profile || "profile";
        controls.setLoading(loadingProfile);
        updateStatus();
        break;
      case "result":
        onResult(msg, bufs);
        break;
      case "stats":
        serverStats = msg.stats || {};
        break;
      case "error":
        if (typeof msg.seq === "number") {
          flow.settle(msg.seq);
          pump();
        }
        if (LOAD_ERRORS.includes(msg.code)) {
          loadingProfile = null;
          controls.setLoading(null);
          updateStatus();
        }
        // recoverable errors clear when results resume; the others stay until dismissed
        banner.show({
          code: String(msg.code || "ERROR"),
          message: String(msg.message || ""),
          recoverable: !!msg.recoverable,
          source: "server",
        });
        break;
      default:
        break;
    }
  }

  // ---- drawing ---------------------------------------------------------------------------
  function draw() {
    raf = requestAnimationFrame(draw);
    const now = performance.now();
    if (now - lastOverlay > 250) {
      lastOverlay = now;
      updateOverlay(now);
    }
    if (!dirty) return;
    /** @type {CanvasImageSource | null} */
    let source = null;
    let w = 0;
    let hh = 0;
    if (kernelSource()) {
      if (latest && latest.frame) {
        source = latest.frame;
        w = latest.frame.width;
        hh = latest.frame.height;
      }
    } else if (camera.active) {
      source = video;
      w = video.videoWidth;
      hh = video.videoHeight;
    }
    if (!source) return;
    dirty = hasVideoFrameCallback ? false : !kernelSource();
    const l = currentLook();
    const t0 = performance.now();
    renderer.draw(source, w, hh, latest ? latest.mask : null, {
      mode: store.get("viz_mode") || "filled",
      opacity: Number(store.get("opacity")),
      lut: l.lut,
    });
    const t1 = performance.now();
    if (!latest) return;
    means.render.add(t1 - t0, t1);
    if (!latest.rendered) {
      latest.rendered = true;
      resultRate.add(1, t1);
      if (!kernelSource()) {
        const t_rendered = clientNow();
        const header = /** @type {any} */ (latest.header);
        feedback = makeFeedback(header, {
          t_rendered,
          render_ms: t1 - t0,
          decode_ms: latest.decode_ms,
          t_sent: latest.t_sent,
          t_received: latest.t_received,
        });
        latencyMean.add(feedback.latency_ms, t1);
        emit("segwidget:render", {
          seq: header.seq,
          t_capture: header.t_capture,
          t_sent: latest.t_sent,
          t_received: latest.t_received,
          t_rendered,
          latency_ms: t_rendered - header.t_capture,
          decode_ms: latest.decode_ms,
          render_ms: t1 - t0,
          server_ms: header.server_ms,
          timings: header.timings,
          profile: header.profile,
        });
      }
    }
  }

  /** @param {number} now */
  function updateOverlay(now) {
    statsEl.hidden = !store.get("show_fps") || !latest;
    legendEl.hidden = !store.get("show_legend");
    if (statsEl.hidden) return;
    const s = serverStats;
    const local = resultRate.rate(now);
    const localLatency = latencyMean.mean(now);
    statsOverlay.update({
      fps: s.fps != null ? Number(s.fps) : latest ? local : null,
      latency_ms: !kernelSource() && localLatency != null ? localLatency : s.latency_ms ?? null,
      inference_ms: s.inference_ms ?? null,
      profile: (latest && latest.header.profile) || s.profile || (ready && ready.profile),
      backend: s.backend || (ready && ready.info && ready.info.backend),
      device: s.device || (ready && ready.info && ready.info.device),
      dropped: s.frames_dropped ?? null,
      gpu_memory_mb: s.gpu_memory_mb ?? null,
      stages: s.stages,
      client: Object.fromEntries(CLIENT_STAGES.map((k) => [k, means[k].mean(now)])),
    });
  }

  // Redraw on each new video frame when the browser tells us about them.
  const hasVideoFrameCallback = typeof (/** @type {any} */ (video).requestVideoFrameCallback) === "function";
  if (hasVideoFrameCallback) {
    const onVideoFrame = () => {
      dirty = true;
      if (!destroyed) /** @type {any} */ (video).requestVideoFrameCallback(onVideoFrame);
    };
    /** @type {any} */ (video).requestVideoFrameCallback(onVideoFrame);
  }

  // ---- wiring ----------------------------------------------------------------------------
  function updateLegend() {
    if (!latest) return legend.clear();
    const { keep, palette } = currentLook();
    legend.update(legendEntries(latest.header.classes || [], labels(), keep, palette));
  }
  const redraw = () => {
    look = null;
    dirty = true;
    updateLegend();
  };
  for (const name of ["viz_mode", "opacity", "class_filter", "colormap", "custom_palette", "labels"]) {
    cleanups.push(store.on(name, redraw));
  }
  for (const name of ["show_fps", "show_legend"]) cleanups.push(store.on(name, () => updateOverlay(performance.now())));
  cleanups.push(
    store.on("max_in_flight", (value) => {
      flow.maxInFlight = maxInFlight(value);
      pump();
    }),
  );
  cleanups.push(store.on("running", applyRunning));
  cleanups.push(store.on("source_kind", applyRunning));
  cleanups.push(
    store.on("resolution", () => {
      if (store.get("running") && !kernelSource()) startCamera();
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
    const onDeviceChange = () => refreshDevices();
    navigator.mediaDevices.addEventListener("devicechange", onDeviceChange);
    cleanups.push(() => navigator.mediaDevices.removeEventListener("devicechange", onDeviceChange));
  }
  applyRunning();
  raf = requestAnimationFrame(draw);

  return {
    banner,
    reset() {
      flow.clear();
      ready = null;
      serverStats = {};
      loadingProfile = null;
      controls.setLoading(null);
      updateStatus();
    },
    destroy() {
      destroyed = true;
      cancelAnimationFrame(raf);
      camera.stop();
      flow.clear();
      if (latest && latest.frame) latest.frame.close();
      cleanups.forEach((c) => c());
      controls.destroy();
      el.replaceChildren();
    },
  };
}
