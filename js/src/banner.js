// Error banner over the video: code, message and a dismiss button.

import { h } from "./util.js";

/**
 * @typedef {{code: string, message: string, recoverable?: boolean, source?: string,
 *   until?: "profile"}} BannerError
 *   `source` says who raised it ("server", "client", "trait", "transport"), so whoever can
 *   tell that it is over clears only its own errors; a recoverable error also clears when
 *   results resume, except one that lasts `until` the next profile request or load (a failed
 *   switch: results go on from the previous profile while it still applies).
 */

/**
 * Whether `clear(source)` clears an error shown from `shown`. The widget's `error` trait
 * mirrors the kernel's errors, so the trait going empty ends a "server" error too.
 * @param {string} source
 * @param {string | undefined} shown
 */
export function clearedBy(source, shown) {
  return shown === source || (source === "trait" && shown === "server");
}

/**
 * Whether new results end the error: recoverable, and not one that lasts until a profile.
 * @param {BannerError | null} err
 */
export function endsWithResults(err) {
  return !!err && !!err.recoverable && err.until !== "profile";
}

export class Banner {
  /** @param {HTMLElement} el  container (hidden while there is no error) */
  constructor(el) {
    this.el = el;
    this.code = h("strong", { class: "sw-banner-code" });
    this.text = h("span", { class: "sw-banner-text" });
    const close = h("button", { class: "sw-banner-close", type: "button", title: "Dismiss", "aria-label": "Dismiss", onclick: () => this.clear() }, "×");
    el.setAttribute("role", "alert");
    el.replaceChildren(this.code, this.text, close);
    /** @type {BannerError | null} */
    this.current = null;
    el.hidden = true;
  }

  /** @param {BannerError} err */
  show(err) {
    this.current = err;
    this.code.textContent = err.code;
    this.text.textContent = err.message;
    this.el.classList.toggle("sw-banner-warn", !!err.recoverable);
    this.el.hidden = false;
  }

  /**
   * Hide the banner; with `source`, only if the shown error came from that source.
   * @param {string} [source]
   */
  clear(source) {
    if (source && (!this.current || !clearedBy(source, this.current.source))) return;
    this.current = null;
    this.el.hidden = true;
  }

  /** Hide the banner if its error is recoverable (results resumed, so it is over). */
  clearRecoverable() {
    if (endsWithResults(this.current)) this.clear();
  }

  /** Hide a failed switch's error: a profile is requested or loaded again. */
  clearProfileError() {
    if (this.current && this.current.until === "profile") this.clear();
  }

  /**
   * Whether the banner already shows this error.
   * @param {{code: string, message: string}} err
   */
  shows(err) {
    return !!this.current && this.current.code === err.code && this.current.message === err.message;
  }
}
