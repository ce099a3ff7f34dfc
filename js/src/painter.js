// Drawing: the overlay on the video (or the kernel's frame, or with the aligned display the
// frame the result came from: aligned.js) every animation frame it changed (stage-renderer.js
// picks how), the first draw of each result timed and reported, the stats overlay and the
// legend.

import { alignedDisplay } from "./aligned.js";
import { makeFeedback } from "./flow.js";
import { legendEntries, legendMode } from "./legend.js";
import { buildLut, filterIndices, resolvePalette } from "./palette.js";
import { clientNow } from "./protocol.js";
import { CLIENT_STAGES } from "./stats.js";

/** @typedef {import("./session-state.js").Session} Session */

/**
 * The session's drawing loop and what it draws besides the overlay.
 * @param {Session} s
 */
export function painter(s) {
  const { store, camera, renderer, legend, statsOverlay, state, view } = s;
  const { video, statsEl, legendEl } = view;
  let raf = 0;
  /** @type {any} */
  let ticker = null;
  let lastMirror = /** @type {boolean | null} */ (null);
  // An animation frame is requested only when there is something to draw: setting
  // `state.dirty` schedules one. (A rAF every frame wakes the page 60 times a second for
  // nothing while the overlay path leaves the video to the compositor.)
  let dirty = !!state.dirty;
  const schedule = () => {
    if (!raf && !state.destroyed) raf = requestAnimationFrame(draw);
  };
  Object.defineProperty(state, "dirty", {
    configurable: true,
    get: () => dirty,
    set: (v) => {
      dirty = !!v;
      if (dirty) schedule();
    },
  });
  /** Whether the newest result is drawn over the frame it came from (aligned.js). */
  const drawsHeld = () => !s.kernelSource() && state.aligned && !!(state.latest && state.latest.frame);
  /** Whether every video frame must be drawn (not the overlay path's: the compositor shows
   * it; not a held frame's: it changes only with the result). */
  const perFrame = () => s.kernelSource() || (!drawsHeld() && renderer.current.path !== "overlay");

  function currentLook() {
    if (!state.look) {
      const ready = state.ready;
      const fallback = ready && (typeof ready.default_colormap === "string" ? ready.default_colormap : ready.colormap);
      const colormap = store.get("colormap") || fallback || "voc";
      const palette = resolvePalette(colormap, ready && ready.palettes, store.get("custom_palette"));
      const keep = filterIndices(store.get("class_filter"), s.labels());
      state.look = { lut: buildLut(palette, keep), keep, palette };
    }
    return state.look;
  }

  // the stats overlay and the legend follow at 4 Hz, off the drawing path
  function tick() {
    updateOverlay(performance.now());
    if (state.legendDirty) {
      state.legendDirty = false;
      updateLegend();
    }
  }

  function draw() {
    raf = 0;
    if (!dirty) return;
    const latest = state.latest;
    /** @type {CanvasImageSource | null} */
    let source = null;
    let w = 0;
    let hh = 0;
    state.aligned = alignedDisplay(store.get("display"), state.latencyMean.mean(performance.now()), s.frameMs(), state.aligned);
    if (s.kernelSource() || drawsHeld()) {
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
    if (!source) {
      schedule(); // the camera is starting: look again next frame
      return;
    }
    const l = currentLook();
    const mirror = s.mirrored();
    if (mirror !== lastMirror) s.controls.effects.setAutoMirror((lastMirror = mirror));
    const t0 = performance.now();
    const settings = {
      mode: store.get("viz_mode") || "filled",
      opacity: Number(store.get("opacity")),
      lut: l.lut,
      renderer: store.get("renderer") || "auto",
      ...s.effects.drawSettings(latest && latest.alphas, mirror),
    };
    // the overlay path redraws only for a new result or setting: a video frame costs nothing
    const drew = renderer.draw(source, w, hh, latest ? latest.mask : null, settings, source === video);
    const display = source === video ? "live" : "aligned";
    if (view.stage.dataset.display !== display) view.stage.dataset.display = display;
    // without requestVideoFrameCallback, a video drawn per frame is drawn every animation frame
    state.dirty = !hasVideoFrameCallback && !s.kernelSource() && perFrame();
    watchFrames(); // the path may have changed to one that draws per frame
    const t1 = performance.now();
    if (!latest) return;
    if (drew) state.means.render.add(t1 - t0, t1);
    if (!latest.rendered) {
      latest.rendered = true;
      state.resultRate.add(1, t1);
      if (!s.kernelSource()) {
        const t_rendered = clientNow();
        const header = /** @type {any} */ (latest.header);
        const feedback = makeFeedback(header, {
          t_rendered,
          render_ms: t1 - t0,
          decode_ms: latest.decode_ms,
          t_sent: latest.t_sent,
          t_received: latest.t_received,
        });
        state.feedback = { ...feedback, ...s.linkReport(t_rendered), aligned: display === "aligned" ? 1 : 0 };
        state.latencyMean.add(feedback.latency_ms, t1);
        s.emit("segwidget:render", {
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
          display,
          window: s.flow.maxInFlight,
        });
      }
    }
  }

  /** @param {number} now */
  function updateOverlay(now) {
    const { latest, ready } = state;
    statsEl.hidden = !store.get("show_fps") || !latest;
    legendEl.hidden = !store.get("show_legend");
    if (statsEl.hidden) return;
    const st = state.serverStats;
    const local = state.resultRate.rate(now);
    const localLatency = state.latencyMean.mean(now);
    statsOverlay.update({
      fps: st.fps != null ? Number(st.fps) : latest ? local : null,
      latency_ms: !s.kernelSource() && localLatency != null ? localLatency : st.latency_ms ?? null,
      inference_ms: st.inference_ms ?? null,
      profile: (latest && latest.header.profile) || st.profile || (ready && ready.profile),
      backend: st.backend || (ready && ready.info && ready.info.backend),
      device: st.device || (ready && ready.info && ready.info.device),
      dropped: st.frames_dropped ?? null,
      gpu_memory_mb: st.gpu_memory_mb ?? null,
      slow: st.slow ?? null,
      adapted: st.adapted ?? null,
      stages: st.stages,
      renderer: renderer.current,
      client: Object.fromEntries(CLIENT_STAGES.map((k) => [k, state.means[k].mean(now)])),
      stopped: !store.get("running"),
    });
  }

  // Redraw on each new video frame when the browser tells us about them, only while the
  // path draws every frame (each callback costs the page a wake-up per video frame).
  const hasVideoFrameCallback = typeof (/** @type {any} */ (video).requestVideoFrameCallback) === "function";
  let watching = false;
  const onVideoFrame = () => {
    watching = false;
    if (state.destroyed || !perFrame()) return;
    state.dirty = true;
    watchFrames();
  };
  function watchFrames() {
    if (!hasVideoFrameCallback || watching || state.destroyed || !perFrame()) return;
    watching = true;
    /** @type {any} */ (video).requestVideoFrameCallback(onVideoFrame);
  }

  function updateLegend() {
    const mode = legendMode(!!state.latest, !!store.get("running"));
    if (mode === "empty") return legend.clear();
    if (mode === "stopped") return legend.stopped();
    const { keep, palette } = currentLook();
    legend.update(legendEntries(state.latest.header.classes || [], s.labels(), keep, palette));
  }

  return {
    updateOverlay,
    updateLegend,
    start: () => {
      ticker = setInterval(tick, 250);
      state.dirty = true;
    },
    stop: () => {
      clearInterval(ticker);
      cancelAnimationFrame(raf);
      raf = 0;
    },
  };
}
