// What the parts of one mounted view share: its DOM, its components, its mutable state and
// the actions the parts call on one another (filled in by createSession in session.js).

import { RollingMean, h } from "./util.js";
import { CLIENT_STAGES } from "./stats.js";

/**
 * @typedef {import("./store.js").SettingsStore} SettingsStore
 * @typedef {import("./protocol.js").Header} Header
 * @typedef {{send: (header: Header, buffers?: Uint8Array[]) => void,
 *   onMessage: (cb: (header: Header, buffers: (ArrayBuffer | ArrayBufferView)[]) => void) => () => void,
 *   isOpen?: () => boolean, peer?: "kernel" | "server"}} Transport
 *   peer: who answers (what the view names when answers stop; default "kernel")
 */

/**
 * @typedef {object} MaskState  the newest decoded result
 * @property {Header} header
 * @property {{data: Uint8Array, width: number, height: number}} mask
 * @property {Uint8Array | null} confidence  the server's person probability (effect modes)
 * @property {import("./view-effects.js").Alphas | null} alphas  person alphas (effect modes)
 * @property {ImageBitmap | null} frame  kernel-side source: the frame the mask belongs to
 * @property {number} decode_ms
 * @property {number} t_received
 * @property {number | null} t_sent
 * @property {boolean} rendered
 */

/**
 * The view's DOM.
 * @param {SettingsStore} store
 */
export function buildView(store) {
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
  return { root, toolbar, canvas, video, statsEl, bannerEl, statusEl, placeholderText, placeholderBtn, placeholder, legendEl, infoEl, stage };
}

/** @typedef {ReturnType<typeof buildView>} View */

/** The session's mutable state, as it is before the first message. */
export function initialState() {
  return {
    /** @type {Header | null} */
    ready: null,
    /** @type {MaskState | null} */
    latest: null,
    seq: 0,
    arrivals: 0, // results received
    applied: 0, // arrival number of the result in `latest`
    /** @type {Record<string, any> | null} feedback about the last rendered result, for the next frame */
    feedback: null,
    /** adaptive quality from the latest result: capture size and frame-rate cap
     * @type {{input_size?: number, max_fps?: number | null, adapted?: boolean} | null} */
    quality: null,
    /** performance.now() when the last frame was sent @type {number | null} */
    lastSent: null,
    /** @type {Record<string, any>} */
    serverStats: {},
    clientErrorReported: false,
    destroyed: false,
    pumping: false,
    dirty: true,
    legendDirty: false, // a result arrived since the legend was last drawn
    cameraStarting: false,
    cameraRefused: "", // why the camera did not start (shown by the Start button)
    hidden: false, // the document is hidden: no frames are sent (resume.js)
    cameraLost: false, // the camera track ended; retrying with backoff (resume.js)
    linkLost: false, // the channel is gone for good (the kernel restarted): re-run the cell
    aligned: false, // results drawn over their own frames now (aligned.js)
    staleBefore: 0, // client clock: results for frames captured before it are not drawn (resume.js)
    confidenceAsked: false, // the last `options` sent since the newest `ready`
    /** @type {string | null} */
    loadingProfile: null,
    /** @type {string | null} */
    deviceId: null,
    /** Colour LUT, palette and visible classes; null when a setting they depend on changed.
     * @type {{lut: Uint8Array, keep: Set<number> | null, palette: number[][]} | null} */
    look: null,
    // client-side figures for the stats overlay, over the last second
    means: Object.fromEntries(CLIENT_STAGES.map((k) => [k, new RollingMean(1000)])),
    latencyMean: new RollingMean(1000),
    resultRate: new RollingMean(1000),
  };
}

/**
 * @typedef {object} Session
 * @property {SettingsStore} store
 * @property {Transport} transport
 * @property {View} view
 * @property {ReturnType<typeof initialState>} state
 * @property {import("./banner.js").Banner} banner
 * @property {import("./stats.js").StatsOverlay} statsOverlay
 * @property {import("./legend.js").Legend} legend
 * @property {import("./stage-renderer.js").StageRenderer} renderer
 * @property {import("./view-effects.js").ViewEffects} effects
 * @property {import("./controls.js").Controls} controls
 * @property {import("./capture.js").Camera} camera
 * @property {import("./flow.js").FrameFlow} flow
 * @property {import("./link.js").ReplyWatch} watch  answers from the other side (link.js)
 * @property {import("./window.js").WindowController} window  the in-flight window for "auto"
 * @property {import("./aligned.js").HeldFrames} held  the frames sent, for the aligned display
 * @property {() => boolean} kernelSource
 * @property {() => number} frameMs  the camera's frame interval (ms)
 * @property {(sent: import("./flow.js").InFlight | null, msg: Record<string, any>, t_received: number) => void} answered
 *   a result came: the window learns the link from it
 * @property {(now: number) => Record<string, number>} linkReport  the link, for the feedback
 * @property {() => boolean} mirrored  whether the view mirrors now
 * @property {() => void} syncOptions  send `options` when what the view needs changed
 * @property {() => string[]} labels
 * @property {(name: string, detail: Record<string, any>) => void} emit
 * @property {() => void} pump  send frames while the in-flight window allows (sender.js)
 * @property {(options?: {retry?: boolean}) => Promise<boolean>} startCamera
 * @property {() => void} updatePlaceholder
 * @property {() => void} updateStatus
 * @property {() => void} updateLegend
 * @property {(err: {code: string, message: string, recoverable: boolean}) => void} reportClientError
 */
