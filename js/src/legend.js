// Legend of the classes detected in the newest result, with colour swatches and shares.
// A click on an entry isolates that class (class_filter = [it]); a second click shows all.

import { cssColor } from "./palette.js";
import { h } from "./util.js";

/**
 * @typedef {{index: number, label: string, color: string, fraction: number, percent: string}} LegendEntry
 */

/**
 * Legend rows for a result's `classes` ([index, fraction] pairs, largest first), without
 * the classes the filter hides.
 * @param {[number, number][]} classes
 * @param {string[]} labels
 * @param {Set<number> | null} keep  from filterIndices (null keeps all)
 * @param {number[][]} palette
 * @returns {LegendEntry[]}
 */
export function legendEntries(classes, labels, keep, palette) {
  return (classes || [])
    .filter(([index]) => !keep || keep.has(index))
    .map(([index, fraction]) => ({
      index,
      label: labels[index] ?? `class ${index}`,
      color: cssColor(palette, index),
      fraction,
      percent: formatPercent(fraction),
    }));
}

/** @param {number} fraction  0..1 */
export function formatPercent(fraction) {
  const pct = fraction * 100;
  if (pct > 0 && pct < 0.1) return "<0.1%";
  return `${pct < 10 ? pct.toFixed(1) : pct.toFixed(0)}%`;
}

/**
 * The class filter after a click on `name` in the legend: only that class, or every class
 * again when it was already the only one shown.
 * @param {string[]} filter  current `class_filter` ([] = all)
 * @param {string} name
 * @returns {string[]}
 */
export function isolateClass(filter, name) {
  return filter && filter.length === 1 && filter[0] === name ? [] : [name];
}

const STOPPED = "Stream stopped";

/**
 * What the legend shows: the newest result's classes while the stream runs, that it is
 * stopped once it is (a kernel source's last frame stays drawn), nothing before a result.
 * @param {boolean} hasResult
 * @param {boolean} running
 * @returns {"entries" | "stopped" | "empty"}
 */
export function legendMode(hasResult, running) {
  if (!running) return hasResult ? "stopped" : "empty";
  return hasResult ? "entries" : "empty";
}

export class Legend {
  /**
   * @param {HTMLElement} el  container (its content is replaced)
   * @param {{maxEntries?: number, onPick?: (label: string) => void}} [options]
   *   onPick: an entry was clicked (or activated with Enter / Space)
   */
  constructor(el, { maxEntries = 12, onPick } = {}) {
    this.el = el;
    this.maxEntries = maxEntries;
    this.onPick = onPick;
    this.key = "";
  }

  /** @param {LegendEntry[]} entries */
  update(entries) {
    const shown = entries.slice(0, this.maxEntries);
    const key = shown.map((e) => `${e.index}:${e.color}:${e.percent}`).join("|");
    if (key === this.key) return;
    this.key = key;
    const pick = (/** @type {string} */ label) => this.onPick && this.onPick(label);
    const items = shown.map((e) =>
      h(
        "li",
        {
          class: "sw-legend-item",
          title: `${e.label}: ${(e.fraction * 100).toFixed(2)}% of the frame (click: show only it, again: all)`,
          role: "button",
          tabindex: "0",
          "data-label": e.label,
          onclick: () => pick(e.label),
          onkeydown: (/** @type {KeyboardEvent} */ ev) => {
            if (ev.key === "Enter" || ev.key === " ") {
              ev.preventDefault();
              pick(e.label);
            }
          },
        },
        h("span", { class: "sw-swatch", style: `background:${e.color}` }),
        h("span", { class: "sw-legend-label" }, e.label),
        h("span", { class: "sw-legend-pct" }, e.percent),
      ),
    );
    if (entries.length > shown.length) {
      items.push(h("li", { class: "sw-legend-more" }, `+${entries.length - shown.length} more`));
    }
    if (!items.length) items.push(h("li", { class: "sw-legend-empty" }, "No visible classes"));
    this.el.replaceChildren(...items);
  }

  clear() {
    this.key = "";
    this.el.replaceChildren();
  }

  /** The stream is stopped: the last result's shares are not current, so none are shown. */
  stopped() {
    if (this.key === STOPPED) return;
    this.key = STOPPED;
    this.el.replaceChildren(h("li", { class: "sw-legend-empty" }, STOPPED));
  }
}
