// FPS / latency overlay with a stacked bar of the per-stage times.

import { h } from "./util.js";

/** Pipeline stages in order, with the colour of each in the bar. */
export const STAGES = /** @type {const} */ ([
  ["capture", "#5eb5ff"],
  ["encode", "#3d8bfd"],
  ["upload", "#8a94a6"],
  ["queue", "#6b7280"],
  ["decode", "#f6c343"],
  ["preprocess", "#f59f00"],
  ["inference", "#f0643c"],
  ["postprocess", "#e8590c"],
  ["encode_mask", "#d6336c"],
  ["download", "#a5adba"],
  ["decode_mask", "#7950f2"],
  ["render", "#20c997"],
]);

/** Stages the browser measures itself (its own numbers are fresher than the server's echo). */
export const CLIENT_STAGES = ["capture", "encode", "decode_mask", "render"];

/**
 * @typedef {{name: string, ms: number, fraction: number, color: string}} Segment
 */

/**
 * Bar segments: the server's `stages`, with the client's own measurements taking
 * precedence for the client stages. Missing, non-finite or non-positive stages are left out.
 * @param {Record<string, number> | null | undefined} serverStages
 * @param {Record<string, number | null>} [clientStages]
 * @returns {{segments: Segment[], total: number}}
 */
export function stageSegments(serverStages, clientStages = {}) {
  const merged = { ...(serverStages || {}) };
  for (const [k, v] of Object.entries(clientStages)) if (v != null) merged[k] = v;
  const rows = STAGES.map(([name, color]) => ({ name, color, ms: Number(merged[name]) })).filter(
    (r) => Number.isFinite(r.ms) && r.ms > 0,
  );
  const total = rows.reduce((s, r) => s + r.ms, 0);
  return { segments: rows.map((r) => ({ ...r, fraction: r.ms / total })), total };
}

/**
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatMs(ms) {
  if (ms == null || !Number.isFinite(ms)) return "–";
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * The overlay's text. `stopped`: the stream is stopped, so no rate or latency is current:
 * it says so instead of showing the last ones.
 * @param {StatsInput} s
 * @returns {{fps: string, latency: string, info: string, note: string}}
 */
export function statsText(s) {
  const where = [s.profile, [s.backend, s.device].filter(Boolean).join("/")];
  if (s.stopped) return { fps: "Stopped", latency: "", info: where.filter(Boolean).join(" · "), note: "" };
  const parts = where;
  if (s.inference_ms != null) parts.push(`inference ${formatMs(s.inference_ms)}`);
  if (s.gpu_memory_mb != null) parts.push(`GPU ${Math.round(s.gpu_memory_mb)} MB`);
  if (s.dropped) parts.push(`${s.dropped} dropped`);
  if (s.adapted) parts.push(`adapted: ${s.adapted}`);
  if (s.renderer) parts.push(`render: ${s.renderer.path}`);
  return {
    fps: s.fps != null && Number.isFinite(s.fps) ? `${s.fps.toFixed(1)} FPS` : "– FPS",
    latency: `latency ${formatMs(s.latency_ms)}`,
    info: parts.filter(Boolean).join(" · "),
    // The kernel's word that this profile cannot follow a camera on this machine.
    note: s.slow || "",
  };
}

/**
 * @typedef {{fps: number | null, latency_ms: number | null, inference_ms?: number | null,
 *   profile?: string | null, backend?: string | null, device?: string | null, dropped?: number | null,
 *   gpu_memory_mb?: number | null, slow?: string | null, adapted?: string | null,
 *   stages?: Record<string, number> | null, client?: Record<string, number | null>,
 *   renderer?: {path: string, reason: string} | null, stopped?: boolean}} StatsInput
 */

export class StatsOverlay {
  /** @param {HTMLElement} el  container (its content is replaced) */
  constructor(el) {
    this.el = el;
    this.fps = h("span", { class: "sw-fps" });
    this.latency = h("span", { class: "sw-latency" });
    this.info = h("div", { class: "sw-stats-info" });
    this.bar = h("div", { class: "sw-stagebar" });
    this.note = h("div", { class: "sw-stats-note" });
    el.replaceChildren(h("div", { class: "sw-stats-main" }, this.fps, this.latency), this.info, this.note, this.bar);
    this.barKey = "";
  }

  /** @param {StatsInput} s */
  update(s) {
    const text = statsText(s);
    this.fps.textContent = text.fps;
    this.latency.textContent = text.latency;
    this.info.textContent = text.info;
    this.info.title = s.renderer && !s.stopped ? s.renderer.reason : "";
    this.note.textContent = text.note;
    this.note.hidden = !text.note;
    const { segments, total } = s.stopped ? { segments: [], total: 0 } : stageSegments(s.stages, s.client);
    const key = segments.map((g) => `${g.name}:${g.ms.toFixed(1)}`).join("|");
    if (key === this.barKey) return;
    this.barKey = key;
    this.bar.title = segments.length
      ? segments.map((g) => `${g.name}: ${formatMs(g.ms)}`).join("\n") + `\ntotal: ${formatMs(total)}`
      : "";
    this.bar.replaceChildren(
      ...segments.map((g) =>
        h("span", {
          class: "sw-stage-seg",
          title: `${g.name}: ${formatMs(g.ms)}`,
          style: `flex-grow:${g.fraction.toFixed(4)};background:${g.color}`,
        }),
      ),
    );
  }
}
