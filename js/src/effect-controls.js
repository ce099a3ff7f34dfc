// Toolbar fields of the background effects: the background picker (a colour, or an image
// file), the edge smoothing and the mirror toggle. Part of the toolbar (controls.js), so the
// widget and the page get the same ones; all of them read and write the settings store.

import { pickedBackground } from "./background-wire.js";
import { BACKGROUND_MODES, DEFAULT_BACKGROUND } from "./effects.js";
import { h } from "./util.js";

/**
 * The colour a `background` setting shows in the picker (an image keeps the last colour).
 * @param {any} background  {color} | {image, mime} | undefined
 * @param {string} previous
 */
export function pickerColor(background, previous = DEFAULT_BACKGROUND) {
  const c = background && background.color;
  return typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c) ? c.toLowerCase() : previous;
}

export class EffectControls {
  /** @param {import("./store.js").SettingsStore} store */
  constructor(store) {
    this.store = store;
    /** @type {boolean | null} the mirror the view applies when the setting is auto (null) */
    this.autoMirror = false;
    this.color = /** @type {HTMLInputElement} */ (
      h("input", {
        class: "sw-color",
        type: "color",
        title: "Background colour (replace)",
        oninput: () => store.set("background", { color: this.color.value }),
      })
    );
    this.file = /** @type {HTMLInputElement} */ (
      h("input", { type: "file", accept: "image/*", hidden: true, onchange: () => this._pickFile() })
    );
    this.imageBtn = h("button", { class: "sw-btn sw-small", type: "button", title: "Background image (replace)", onclick: () => this.file.click() }, "Image…");
    this.background = h("span", { class: "sw-field" }, h("span", { class: "sw-field-label" }, "Background"), this.color, this.imageBtn, this.file);
    this.smoothing = /** @type {HTMLInputElement} */ (
      h("input", {
        class: "sw-range sw-smoothing",
        type: "range",
        min: "0",
        max: "1",
        step: "0.05",
        title: "Edge smoothing over time (0: off)",
        oninput: () => store.set("smoothing", Number(this.smoothing.value)),
      })
    );
    this.smoothingField = h("label", { class: "sw-field" }, h("span", { class: "sw-field-label" }, "Smoothing"), this.smoothing);
    this.mirror = h("button", {
      class: "sw-btn sw-toggle",
      type: "button",
      title: "Mirror the view (selfie view; frames sent to the model are never mirrored)",
      onclick: () => store.set("mirror", !this.mirrored()),
    }, "Mirror");
    /** @type {HTMLElement[]} */
    this.elements = [this.background, this.smoothingField, this.mirror];
    /** @type {Record<string, () => void>} */
    this.updaters = {
      viz_mode: () => {
        const mode = store.get("viz_mode");
        this.background.hidden = mode !== "replace";
        this.smoothingField.hidden = !BACKGROUND_MODES.includes(mode);
      },
      background: () => {
        this.color.value = pickerColor(store.get("background"), this.color.value || DEFAULT_BACKGROUND);
        this.imageBtn.setAttribute("aria-pressed", String(!!(store.get("background") || {}).image));
      },
      smoothing: () => {
        if (document.activeElement !== this.smoothing) this.smoothing.value = String(Number(store.get("smoothing")));
      },
      mirror: () => this.mirror.setAttribute("aria-pressed", String(this.mirrored())),
    };
  }

  /** Whether the view mirrors now: the setting, or the camera's default when it is auto. */
  mirrored() {
    const m = this.store.get("mirror");
    return m === true || m === false ? m : !!this.autoMirror;
  }

  /** @param {boolean} on  what auto (mirror = null) means for the current camera */
  setAutoMirror(on) {
    this.autoMirror = on;
    this.updaters.mirror();
  }

  async _pickFile() {
    const f = this.file.files && this.file.files[0];
    if (!f) return;
    this.file.value = "";
    try {
      this.store.set("background", await pickedBackground(f));
    } catch (err) {
      console.error("segwidget: the background image could not be read", err);
    }
  }
}
