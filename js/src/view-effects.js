// The session's share of the smooth, steady edges and the background effects: per result,
// the person alpha smoothed over time (the class modes draw a soft profile's two classes from
// it, blur and replace cut the person out with it, the confidence view shows the raw one) and
// the class mask steadied over results (the class modes of the other profiles); per draw, the
// settings the renderers take (mirror, alphas, classes, background). `smoothing` applies in
// every view. The server's `confidence` buffer is asked for in every mode: only a soft
// profile (person) has one.

import { BackgroundSource } from "./backdrop.js";
import { AlphaSmoother, ClassSteadier, EFFECT_MODES, personAlpha, personIndex, resolveMirror } from "./effects.js";

/**
 * @typedef {import("./effects.js").Plane} Plane
 * @typedef {{raw: Plane | null, smooth: Plane | null, soft: Plane | null, classes: Plane,
 *   mask: Plane, person: number | null}} Alphas
 */

export class ViewEffects {
  /**
   * @param {import("./store.js").SettingsStore} store
   * @param {() => void} redraw  called when a background image has loaded
   */
  constructor(store, redraw) {
    this.store = store;
    this.smoother = new AlphaSmoother();
    this.steadier = new ClassSteadier();
    this.background = new BackgroundSource(redraw);
    this.background.set(store.get("background"));
    this.unsubscribe = store.on("background", (v) => {
      this.background.set(v);
      redraw();
    });
  }

  /** Whether the view wants the server's confidence: always (soft edges in every mode). */
  wantsConfidence() {
    return true;
  }

  /** Whether the current mode is a background effect or the confidence view. */
  effectMode() {
    return EFFECT_MODES.includes(this.store.get("viz_mode"));
  }

  /**
   * The alphas and steadied classes of a new result. A profile without a confidence builds
   * its person alpha only while an effect mode is on (see drawSettings).
   * @param {Plane} mask
   * @param {Uint8Array | null} confidence  the server's person probability, or null
   * @param {string[]} labels
   * @returns {Alphas}
   */
  onResult(mask, confidence, labels) {
    const smoothing = this.store.get("smoothing");
    const conf = confidence && confidence.length === mask.data.length ? confidence : null;
    const alphas = { raw: null, smooth: null, soft: null, classes: mask, mask, person: personIndex(labels) };
    if (conf) {
      alphas.raw = { data: conf, width: mask.width, height: mask.height };
      alphas.smooth = alphas.soft = this.smoother.update(alphas.raw, smoothing);
      this.steadier.reset();
      return alphas;
    }
    alphas.classes = this.steadier.update(mask, smoothing);
    if (this.effectMode()) this._personAlpha(alphas);
    else this.smoother.reset();
    return alphas;
  }

  /** @param {Alphas} alphas */
  _personAlpha(alphas) {
    const { mask } = alphas;
    alphas.raw = { data: personAlpha(mask, null, alphas.person), width: mask.width, height: mask.height };
    alphas.smooth = this.smoother.update(alphas.raw, this.store.get("smoothing"));
  }

  /** Whether the view mirrors now. @param {string} sourceKind @param {string | undefined} facingMode */
  mirror(sourceKind, facingMode) {
    return resolveMirror(this.store.get("mirror"), sourceKind, facingMode);
  }

  /**
   * The renderers' settings from a result's alphas (see canvas.js DrawSettings).
   * @param {Alphas | null} alphas  of the result drawn
   * @param {boolean} mirror
   */
  drawSettings(alphas, mirror) {
    if (alphas && !alphas.raw && this.effectMode()) this._personAlpha(alphas); // switched to an effect
    return {
      mirror,
      alpha: alphas ? alphas.smooth : null,
      confidence: alphas ? alphas.raw : null,
      soft: alphas ? alphas.soft : null,
      classes: alphas ? alphas.classes : null,
      background: this.background.get(),
    };
  }

  destroy() {
    this.unsubscribe();
  }
}
