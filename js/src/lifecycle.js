// The session's state machine: the camera starting, running and stopping with the `running`
// and `source_kind` settings, what the stage shows meanwhile, errors the browser reports, and
// the link to the kernel going quiet, coming back or being lost for good (link.js).

import { cameraError } from "./capture.js";
import { CameraRetry } from "./resume.js";

/** @typedef {import("./session-state.js").Session} Session */

/** What the stage says while frames go unanswered (link.js), by who should answer. */
export const WAITING_TEXT = {
  kernel: "Waiting for the kernel: it is busy (a cell running?) or out of reach. Results resume by themselves.",
  server: "Waiting for the server: it is busy or out of reach. Results resume by themselves.",
};

/**
 * The lifecycle actions of a session.
 * @param {Session} s
 */
export function lifecycle(s) {
  const { store, transport, camera, controls, banner, state, view } = s;

  /** @param {{code: string, message: string, recoverable: boolean}} err */
  function reportClientError(err) {
    banner.show({ ...err, source: "client" });
    transport.send({ type: "client_error", code: err.code, message: err.message, recoverable: err.recoverable });
    state.clientErrorReported = true;
  }

  function clearClientError() {
    banner.clear("client");
    if (state.clientErrorReported) transport.send({ type: "client_error", code: null });
    state.clientErrorReported = false;
  }

  const retry = new CameraRetry({
    start: () => startCamera({ retry: true }),
    shouldRetry: () => state.cameraLost && !state.destroyed && !state.linkLost && !s.kernelSource() && !!store.get("running"),
  });

  /**
   * Open the camera and stream. A retry after the track ended keeps `running` and the
   * CAMERA_CLOSED banner when it fails; any other start (Start, another camera picked) ends
   * the retries and reports its own failure.
   * @param {{retry?: boolean}} [options]
   * @returns {Promise<boolean>} whether the camera plays
   */
  async function startCamera({ retry: retrying = false } = {}) {
    if (s.kernelSource() || state.destroyed || state.linkLost) return false;
    if (!retrying) retry.cancel();
    state.cameraStarting = true;
    state.cameraRefused = "";
    updatePlaceholder();
    const [w, hgt] = store.get("resolution") || [640, 480];
    try {
      await camera.start({ deviceId: state.deviceId, width: w, height: hgt });
    } catch (err) {
      state.cameraStarting = false;
      if (!retrying) {
        const e = /** @type {any} */ (err);
        state.cameraLost = false;
        const why = e && typeof e.code === "string" ? e : cameraError(e);
        reportClientError(why);
        state.cameraRefused = why.message; // the placeholder keeps the reason by its button
        store.set("running", false);
      }
      updatePlaceholder();
      return false;
    }
    state.cameraStarting = false;
    if (state.destroyed || state.linkLost || !store.get("running")) {
      camera.stop();
      return false;
    }
    state.cameraLost = false;
    clearClientError();
    refreshDevices();
    state.dirty = true;
    updatePlaceholder();
    s.pump();
    return true;
  }

  /**
   * The camera track ended while streaming: say so, keep `running` and try to get it back.
   * @param {{code: string, message: string, recoverable: boolean}} err
   */
  function cameraEnded(err) {
    reportClientError(err);
    state.cameraLost = true;
    s.flow.clear();
    s.watch.clear();
    updatePlaceholder();
    retry.schedule();
  }

  function stopCamera() {
    retry.cancel();
    state.cameraLost = false;
    camera.stop();
    s.flow.clear();
    s.watch.clear();
    if (state.latest && state.latest.frame) state.latest.frame.close(); // a held frame's pixels
    state.latest = null;
    state.dirty = true;
    s.renderer.clear();
    s.updateLegend();
    updatePlaceholder();
  }

  async function refreshDevices() {
    try {
      const devices = await camera.listDevices();
      const track = camera.stream && camera.stream.getVideoTracks()[0];
      const current = (track && track.getSettings && track.getSettings().deviceId) || state.deviceId;
      controls.setDevices(devices, current || null);
    } catch {
      // enumerateDevices is best effort: the picker just stays as it was
    }
  }

  function applyRunning() {
    if (state.linkLost) {
      camera.stop(); // a dead view never opens the camera again
    } else if (s.kernelSource()) {
      camera.stop();
    } else if (store.get("running")) {
      if (!camera.stream && !state.cameraStarting) startCamera();
    } else {
      stopCamera();
    }
    controls.setSourceKind(s.kernelSource() ? "kernel" : "browser");
    state.legendDirty = true; // the legend and stats say whether the stream runs (painter.js)
    updatePlaceholder();
  }

  function updatePlaceholder() {
    const { placeholder, placeholderText, placeholderBtn, canvas, stage } = view;
    const running = !!store.get("running");
    let text = "";
    let showButton = false;
    if (state.linkLost) {
      text = "Disconnected from the kernel (it restarted, or the connection to it was lost). Re-run the cell to stream again.";
    } else if (s.kernelSource()) {
      if (!state.latest) text = running ? "Waiting for frames from the kernel…" : "Stopped. Press Start to stream from the kernel source.";
      showButton = !running;
    } else if (!running) {
      text = state.cameraRefused
        ? `The camera did not start: ${state.cameraRefused}`
        : "Press Start to segment your camera live.";
      showButton = true;
    } else if (state.cameraLost) {
      text = "The camera stopped delivering frames; trying to open it again…";
    } else if (state.cameraStarting || !camera.active) {
      text = "Starting the camera… allow access if the browser asks.";
    }
    placeholderText.textContent = text;
    placeholderBtn.hidden = !showButton;
    placeholderBtn.textContent = s.kernelSource() ? "▶ Start" : "▶ Start camera";
    placeholder.hidden = !text;
    canvas.hidden = !!text;
    stage.classList.toggle("sw-empty", !!text);
    updateStatus();
  }

  function updateStatus() {
    let text = "";
    if (s.watch.waiting) text = WAITING_TEXT[transport.peer === "server" ? "server" : "kernel"];
    else if (state.loadingProfile) text = `Loading ${state.loadingProfile}…`;
    else if (!state.ready && store.get("running")) text = "Waiting for the model…";
    view.statusEl.textContent = text;
    view.statusEl.hidden = !text;
    view.statusEl.classList.toggle("sw-status-waiting", s.watch.waiting);
  }

  return {
    reportClientError,
    startCamera,
    cameraEnded,
    stopCamera,
    stopRetrying: () => retry.cancel(),
    refreshDevices,
    applyRunning,
    updatePlaceholder,
    updateStatus,
  };
}
