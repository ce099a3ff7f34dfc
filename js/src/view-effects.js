// The session's share of the background effects: per result, the person alpha (raw for the
// confidence view, smoothed over time for blur and replace); per draw, the settings the
// canvas needs (mirror, alphas, background). Also whether the view needs the server's
// `confidence` buffer, which only the effect modes pay for.

import { BackgroundSource } from "./backdrop.js";
import { AlphaSmoother, EFFECT_MODES, personAlpha, personIndex, resolveMirror } from "./effects.js";

/**
 * @typedef {import("./effects.js").Plane} Plane
 * @typedef {{raw: Plane, smooth: Plane}} Alphas
 */

export class ViewEffects {
  /**
   * @param {import("./store.js").SettingsStore} store
   * @param {() => void} redraw  called when a background image has loaded
   */
  constructor(store, redraw) {
    this.store = store;
    this.smoother = new AlphaSmoother();
    this.background = new BackgroundSource(redraw);
    this.background.set(store.get("background"));
    this.unsubscribe = store.on("background", (v) => {
      this.background.set(v);
      redraw();
    });
  }

  /** Whether the current mode needs the person alpha (and so the server's confidence). */
  wantsConfidence() {
    return EFFECT_MODES.includes(this.store.get("viz_mode"));
  }

  /**
   * The alphas of a new result; computed only while an effect mode is on (the smoother
   * starts over when one is switched on again).
   * @param {Plane} mask
   * @param {Uint8Array | null} confidence  the server's person probability, or null
   * @param {string[]} labels
   * @returns {Alphas | null}
   */
  onResult(mask, confidence, labels) {
    if (!this.wantsConfidence()) {
      this.smoother.reset();
      return null;
    }
    const data = personAlpha(mask.data, confidence && confidence.length === mask.data.length ? confidence : null, personIndex(labels));
    const raw = { data, width: mask.width, height: mask.height };
    return { raw, smooth: this.smoother.update(raw, this.store.get("smoothing")) };
  }

  /** Whether the view mirrors now. @param {string} sourceKind @param {string | undefined} facingMode */
  mirror(sourceKind, facingMode) {
    return resolveMirror(this.store.get("mirror"), sourceKind, facingMode);
  }

  /**
   * The effect fields of the renderer's settings.
   * @param {Alphas | null} alphas  of the result drawn
   * @param {boolean} mirror
   */
  drawSettings(alphas, mirror) {
    return {
      mirror,
      alpha: alphas ? alphas.smooth : null,
      confidence: alphas ? alphas.raw : null,
      background: this.background.get(),
    };
  }

  destroy() {
    this.unsubscribe();
  }
}
