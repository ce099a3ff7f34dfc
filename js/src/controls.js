// Toolbar: start/stop, profile, viz mode, opacity, class filter, colormap, FPS / legend
// toggles and the camera picker. Everything reads and writes the settings store, so the same
// controls drive synced traits (widget) and a local store (page).

import { EffectControls } from "./effect-controls.js";
import { VIZ_MODES } from "./renderer.js";
import { h } from "./util.js";

const VIZ_LABELS = {
  filled: "Filled",
  contour: "Contour",
  "side-by-side": "Side by side",
  blend: "Blend",
  blur: "Blur",
  replace: "Replace",
  confidence: "Confidence",
};
export const COLORMAPS = ["voc", "ade20k", "cityscapes", "person", "custom"]; // labels.COLORMAPS (test_js checks)
export const DEFAULT_PROFILES = ["fast", "balanced", "accurate"];

/**
 * The class filter after checking or unchecking one class. An empty filter means "all
 * classes", so a filter that would list every label becomes [], and unchecking the last
 * visible class is refused (the filter is returned unchanged).
 * @param {string[]} filter  current `class_filter` ([] = all)
 * @param {string[]} labels
 * @param {string} name
 * @param {boolean} checked
 * @returns {string[]}
 */
export function toggleClass(filter, labels, name, checked) {
  const shown = new Set(filter && filter.length ? filter : labels);
  if (checked) shown.add(name);
  else shown.delete(name);
  const next = labels.filter((l) => shown.has(l));
  if (!next.length) return filter;
  return next.length === labels.length ? [] : next;
}

/**
 * @typedef {import("./store.js").SettingsStore} SettingsStore
 */

export class Controls {
  /**
   * @param {HTMLElement} el  toolbar container
   * @param {SettingsStore} store
   * @param {{onCamera?: (deviceId: string) => void}} [options]
   */
  constructor(el, store, { onCamera } = {}) {
    this.el = el;
    this.store = store;
    /** @type {(() => void)[]} */
    this.unsubscribe = [];
    /** @type {string[]} */
    this.labels = [];
    /** @type {string[]} */
    this.detected = [];

    this.startBtn = h("button", { class: "sw-btn sw-start", type: "button", onclick: () => store.set("running", !store.get("running")) });

    this.profile = /** @type {HTMLSelectElement} */ (
      h("select", { class: "sw-select", title: "Model profile", onchange: () => store.set("profile", this.profile.value) })
    );
    this.spinner = h("span", { class: "sw-spinner", hidden: true, title: "Loading profile" });
    this.profile.append(...DEFAULT_PROFILES.map((p) => h("option", { value: p }, p)));

    this.vizButtons = VIZ_MODES.map((mode) =>
      h("button", { class: "sw-seg-btn", type: "button", "data-mode": mode, onclick: () => store.set("viz_mode", mode) }, VIZ_LABELS[mode]),
    );

    this.opacity = /** @type {HTMLInputElement} */ (
      h("input", {
        class: "sw-range sw-opacity",
        type: "range",
        min: "0",
        max: "1",
        step: "0.05",
        title: "Overlay opacity",
        oninput: () => store.set("opacity", Number(this.opacity.value)),
      })
    );
    this.opacityValue = h("span", { class: "sw-range-value" });

    this.filterSummary = h("summary", { class: "sw-btn" });
    this.filterSearch = /** @type {HTMLInputElement} */ (
      h("input", { class: "sw-search", type: "search", placeholder: "Search classes", oninput: () => this._renderFilterList() })
    );
    this.filterList = h("div", { class: "sw-filter-list" });
    this.filter = /** @type {HTMLDetailsElement} */ (
      h(
        "details",
        { class: "sw-popover" },
        this.filterSummary,
        h(
          "div",
          { class: "sw-popover-body" },
          h(
            "div",
            { class: "sw-popover-actions" },
            this.filterSearch,
            h("button", { class: "sw-btn sw-small", type: "button", title: "Show every class", onclick: () => store.set("class_filter", []) }, "All"),
            h(
              "button",
              {
                class: "sw-btn sw-small",
                type: "button",
                title: "Show only the classes in the current frame",
                onclick: () => this.detected.length && store.set("class_filter", this.detected.length === this.labels.length ? [] : this.detected),
              },
              "Detected",
            ),
          ),
          this.filterList,
        ),
      )
    );

    this.colormap = /** @type {HTMLSelectElement} */ (
      h(
        "select",
        { class: "sw-select", title: "Colormap", onchange: () => store.set("colormap", this.colormap.value) },
        ...COLORMAPS.map((c) => h("option", { value: c }, c)),
      )
    );

    this.fpsToggle = h("button", { class: "sw-btn sw-toggle", type: "button", title: "Show FPS and stage times", onclick: () => store.set("show_fps", !store.get("show_fps")) }, "Stats");
    this.legendToggle = h("button", { class: "sw-btn sw-toggle", type: "button", title: "Show the class legend", onclick: () => store.set("show_legend", !store.get("show_legend")) }, "Legend");

    this.camera = /** @type {HTMLSelectElement} */ (
      h("select", { class: "sw-select sw-camera", title: "Camera", onchange: () => onCamera && onCamera(this.camera.value) })
    );

    this.effects = new EffectControls(store);

    el.replaceChildren(
      h(
        "div",
        { class: "sw-toolbar-row" },
        this.startBtn,
        h("label", { class: "sw-field" }, h("span", { class: "sw-field-label" }, "Profile"), this.profile, this.spinner),
        h("div", { class: "sw-segmented", role: "group", "aria-label": "Visualisation" }, ...this.vizButtons),
        h("label", { class: "sw-field" }, h("span", { class: "sw-field-label" }, "Opacity"), this.opacity, this.opacityValue),
      ),
      h(
        "div",
        { class: "sw-toolbar-row" },
        this.filter,
        h("label", { class: "sw-field" }, h("span", { class: "sw-field-label" }, "Colors"), this.colormap),
        ...this.effects.elements,
        this.fpsToggle,
        this.legendToggle,
        h("span", { class: "sw-spacer" }),
        this.camera,
      ),
    );

    const s = store;
    /** @type {Record<string, () => void>} */
    this.updaters = {
      running: () => {
        const running = !!s.get("running");
        this.startBtn.textContent = running ? "■ Stop" : "▶ Start";
        this.startBtn.classList.toggle("sw-active", running);
      },
      profile: () => {
        const profile = s.get("profile");
        if (profile && ![...this.profile.options].some((o) => o.value === profile)) {
          this.profile.append(h("option", { value: profile }, profile));
        }
        this.profile.value = profile || "";
      },
      viz_mode: () => {
        const mode = s.get("viz_mode");
        for (const b of this.vizButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
        this.effects.updaters.viz_mode();
      },
      background: this.effects.updaters.background,
      smoothing: this.effects.updaters.smoothing,
      mirror: this.effects.updaters.mirror,
      opacity: () => {
        const opacity = Number(s.get("opacity"));
        if (document.activeElement !== this.opacity) this.opacity.value = String(opacity);
        this.opacityValue.textContent = `${Math.round(opacity * 100)}%`;
      },
      class_filter: () => {
        const filter = s.get("class_filter") || [];
        this.filterSummary.textContent = filter.length ? `Classes: ${filter.length === 1 ? filter[0] : filter.length}` : "Classes: all";
        this._renderFilterList();
      },
      colormap: () => {
        this.colormap.value = s.get("colormap") || "";
      },
      custom_palette: () => {
        const custom = /** @type {HTMLOptionElement} */ (this.colormap.querySelector('option[value="custom"]'));
        custom.disabled = !(s.get("custom_palette") || []).length;
      },
      show_fps: () => this.fpsToggle.setAttribute("aria-pressed", String(!!s.get("show_fps"))),
      show_legend: () => this.legendToggle.setAttribute("aria-pressed", String(!!s.get("show_legend"))),
    };
    for (const [name, update] of Object.entries(this.updaters)) this.unsubscribe.push(store.on(name, update));
    // the class popover closes on a click elsewhere or Escape
    const close = (/** @type {Event} */ ev) => {
      const outside = ev.type === "keydown" ? /** @type {KeyboardEvent} */ (ev).key === "Escape" : !this.filter.contains(/** @type {Node} */ (ev.target));
      if (this.filter.open && outside) this.filter.open = false;
    };
    document.addEventListener("pointerdown", close);
    document.addEventListener("keydown", close);
    this.unsubscribe.push(() => {
      document.removeEventListener("pointerdown", close);
      document.removeEventListener("keydown", close);
    });
    this.setDevices([], null);
    Object.values(this.updaters).forEach((u) => u());
  }

  /** @param {string[]} profiles */
  setProfiles(profiles) {
    this.profile.replaceChildren(...profiles.map((p) => h("option", { value: p }, p)));
    this.updaters.profile();
  }

  /** @param {string[]} labels  class names of the serving profile */
  setLabels(labels) {
    if (labels.join("\n") === this.labels.join("\n")) return;
    this.labels = labels;
    this._renderFilterList();
  }

  /** @param {string[]} names  classes present in the newest result */
  setDetected(names) {
    this.detected = names;
  }

  /** @param {string | null} profile  being loaded, or null */
  setLoading(profile) {
    this.spinner.hidden = !profile;
    this.spinner.title = profile ? `Loading ${profile}…` : "";
  }

  /**
   * @param {{deviceId: string, label: string}[]} devices
   * @param {string | null} selected
   */
  setDevices(devices, selected) {
    this.camera.replaceChildren(
      ...(devices.length ? devices : [{ deviceId: "", label: "Default camera" }]).map((d) => h("option", { value: d.deviceId }, d.label)),
    );
    if (selected) this.camera.value = selected;
    this.camera.hidden = devices.length < 2;
  }

  /** @param {string} kind  "browser" or "kernel" (no browser camera: hide its picker) */
  setSourceKind(kind) {
    this.camera.classList.toggle("sw-hidden", kind === "kernel");
  }

  _renderFilterList() {
    const filter = this.store.get("class_filter") || [];
    const shown = new Set(filter.length ? filter : this.labels);
    const q = this.filterSearch.value.trim().toLowerCase();
    this.filterList.replaceChildren(
      ...this.labels
        .filter((name) => !q || name.toLowerCase().includes(q))
        .map((name) => {
          const box = /** @type {HTMLInputElement} */ (
            h("input", {
              type: "checkbox",
              checked: shown.has(name),
              onchange: () => {
                const next = toggleClass(this.store.get("class_filter") || [], this.labels, name, box.checked);
                this.store.set("class_filter", next);
                this._renderFilterList();
              },
            })
          );
          return h("label", { class: "sw-check" }, box, h("span", {}, name));
        }),
    );
  }

  destroy() {
    this.unsubscribe.forEach((u) => u());
    this.unsubscribe = [];
  }
}
