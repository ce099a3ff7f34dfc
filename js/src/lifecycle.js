// The session's state machine: the camera starting, running and stopping with the `running`
// and `source_kind` settings, what the stage shows meanwhile, and errors the browser reports.

import { cameraError } from "./capture.js";

/** @typedef {import("./session-state.js").Session} Session */

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

  async function startCamera() {
    if (s.kernelSource() || state.destroyed) return;
    state.cameraStarting = true;
    updatePlaceholder();
    const [w, hgt] = store.get("resolution") || [640, 480];
    try {
      await camera.start({ deviceId: state.deviceId, width: w, height: hgt });
    } catch (err) {
      state.cameraStarting = false;
      const e = /** @type {any} */ (err);
      reportClientError(e && typeof e.code === "string" ? e : cameraError(e));
      store.set("running", false);
      updatePlaceholder();
      return;
    }
    state.cameraStarting = false;
    if (state.destroyed || !store.get("running")) {
      camera.stop();
      return;
    }
    clearClientError();
    refreshDevices();
    state.dirty = true;
    updatePlaceholder();
    s.pump();
  }

  function stopCamera() {
    camera.stop();
    s.flow.clear();
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
    if (s.kernelSource()) {
      camera.stop();
    } else if (store.get("running")) {
      if (!camera.stream && !state.cameraStarting) startCamera();
    } else {
      stopCamera();
    }
    controls.setSourceKind(s.kernelSource() ? "kernel" : "browser");
    updatePlaceholder();
  }

  function updatePlaceholder() {
    const { placeholder, placeholderText, placeholderBtn, canvas, stage } = view;
    const running = !!store.get("running");
    let text = "";
    let showButton = false;
    if (s.kernelSource()) {
      if (!state.latest) text = running ? "Waiting for frames from the kernel…" : "Stopped. Press Start to stream from the kernel source.";
      showButton = !running;
    } else if (!running) {
      text = "Press Start to segment your camera live.";
      showButton = true;
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
    if (state.loadingProfile) text = `Loading ${state.loadingProfile}…`;
    else if (!state.ready && store.get("running")) text = "Waiting for the model…";
    view.statusEl.textContent = text;
    view.statusEl.hidden = !text;
  }

  return { reportClientError, startCamera, refreshDevices, applyRunning, updatePlaceholder, updateStatus };
}
