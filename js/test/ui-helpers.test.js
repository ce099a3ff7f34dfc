// Pure helpers of the UI modules (no DOM needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { cameraError, cameraSupportError } from "../src/capture.js";
import { toggleClass } from "../src/controls.js";
import { formatPercent, legendEntries } from "../src/legend.js";
import { initMessage, pageSettings, settingsFromQuery, updateVizMessage, wsUrl } from "../src/page.js";
import { filterIndices, vocPalette } from "../src/palette.js";
import { formatMs, stageSegments } from "../src/stats.js";
import { createLocalStore } from "../src/store.js";
import { fitLongSide, RollingMean } from "../src/util.js";

const LABELS = ["background", "aeroplane", "bicycle", "bird"];

test("toggleClass: empty filter means all; full filter collapses to []; the last class stays", () => {
  assert.deepEqual(toggleClass([], LABELS, "bird", false), ["background", "aeroplane", "bicycle"]);
  assert.deepEqual(toggleClass(["bird"], LABELS, "aeroplane", true), ["aeroplane", "bird"]);
  assert.deepEqual(toggleClass(["background", "aeroplane", "bicycle"], LABELS, "bird", true), []);
  assert.deepEqual(toggleClass(["bird"], LABELS, "bird", false), ["bird"]);
  assert.deepEqual(toggleClass(["bird", "person"], LABELS, "bicycle", true), ["bicycle", "bird"]); // stale names drop
});

test("legend: labels, palette colours and percentages, filtered classes left out", () => {
  const palette = vocPalette();
  const classes = /** @type {[number, number][]} */ ([
    [0, 0.7123],
    [3, 0.25],
    [2, 0.0377],
    [9, 0.0004],
  ]);
  const all = legendEntries(classes, LABELS, null, palette);
  assert.deepEqual(
    all.map((e) => [e.index, e.label, e.color, e.percent]),
    [
      [0, "background", "rgb(0, 0, 0)", "71%"],
      [3, "bird", "rgb(128, 128, 0)", "25%"],
      [2, "bicycle", "rgb(0, 128, 0)", "3.8%"],
      [9, "class 9", "rgb(192, 0, 0)", "<0.1%"],
    ],
  );
  const some = legendEntries(classes, LABELS, filterIndices(["bird"], LABELS), palette);
  assert.deepEqual(some.map((e) => e.label), ["bird"]);
  assert.equal(formatPercent(0), "0.0%");
  assert.equal(formatPercent(1), "100%");
});

test("stage bar: server stages in pipeline order, client's own numbers win", () => {
  const { segments, total } = stageSegments(
    { capture: 9, inference: 20, upload: 2, render: 9, bogus: 4, queue: 0 },
    { capture: 1, render: 3, encode: null },
  );
  assert.deepEqual(segments.map((s) => [s.name, s.ms]), [["capture", 1], ["upload", 2], ["inference", 20], ["render", 3]]);
  assert.equal(total, 26);
  assert.ok(Math.abs(segments.reduce((a, s) => a + s.fraction, 0) - 1) < 1e-9);
  assert.deepEqual(stageSegments(null).segments, []);
  assert.equal(formatMs(3.14159), "3.1 ms");
  assert.equal(formatMs(63.4), "63 ms");
  assert.equal(formatMs(null), "–");
});

test("camera errors map to the protocol codes", () => {
  const e = (name) => cameraError(Object.assign(new Error("x"), { name }));
  assert.deepEqual([e("NotAllowedError").code, e("NotAllowedError").recoverable], ["CAMERA_DENIED", false]);
  assert.equal(e("SecurityError").code, "CAMERA_DENIED");
  assert.deepEqual([e("NotFoundError").code, e("NotFoundError").recoverable], ["NO_CAMERA", false]);
  assert.equal(e("OverconstrainedError").code, "NO_CAMERA");
  assert.deepEqual([e("NotReadableError").code, e("NotReadableError").recoverable], ["CAMERA_CLOSED", true]);
  assert.match(e("NotReadableError").message, /another application/);
});

test("an insecure context or a missing mediaDevices is reported before trying", () => {
  const insecure = cameraSupportError({ isSecureContext: false, location: { protocol: "http:", hostname: "10.0.0.5" }, navigator: {} });
  assert.equal(insecure?.code, "INSECURE_CONTEXT");
  assert.match(String(insecure?.message), /http:\/\/10\.0\.0\.5/);
  assert.match(String(insecure?.message), /https/);
  assert.equal(cameraSupportError({ isSecureContext: true, navigator: {} })?.code, "NO_CAMERA");
  assert.equal(cameraSupportError({ isSecureContext: true, navigator: { mediaDevices: { getUserMedia() {} } } }), null);
});

test("frames are downscaled to the input size with the aspect kept, never upscaled", () => {
  assert.deepEqual(fitLongSide(640, 480, 320), { width: 320, height: 240 });
  assert.deepEqual(fitLongSide(480, 640, 320), { width: 240, height: 320 });
  assert.deepEqual(fitLongSide(1280, 720, 512), { width: 512, height: 288 });
  assert.deepEqual(fitLongSide(640, 480, 768), { width: 640, height: 480 });
});

test("rolling mean and rate over a window", () => {
  const m = new RollingMean(1000);
  assert.equal(m.mean(0), null);
  m.add(10, 0);
  m.add(20, 500);
  assert.equal(m.mean(900), 15);
  assert.equal(m.rate(900), 2);
  assert.equal(m.mean(1200), 20); // the first sample left the window
});

test("page: WebSocket URL next to the page, token copied; init and update_viz messages", () => {
  assert.equal(wsUrl({ href: "http://localhost:8000/", protocol: "http:", search: "" }), "ws://localhost:8000/ws");
  assert.equal(
    wsUrl({ href: "https://abc.ngrok.app/?token=s3cr%20t&x=1", protocol: "https:", search: "?token=s3cr%20t&x=1" }),
    "wss://abc.ngrok.app/ws?token=s3cr+t",
  );
  assert.equal(wsUrl({ href: "https://host/proxy/8000/", protocol: "https:", search: "" }), "wss://host/proxy/8000/ws");
  const store = createLocalStore(settingsFromQuery("?profile=fast&resolution=1280x720&quality=70"));
  assert.deepEqual(initMessage(store), {
    type: "init",
    config: { binary: true, resolution: { width: 1280, height: 720 }, model_mode: "fast" },
  });
  assert.equal(store.get("jpeg_quality"), 70);
  const view = settingsFromQuery("?viz=blur&mirror=1&background=%2300AAFF");
  assert.deepEqual(view, { viz_mode: "blur", mirror: true, background: { color: "#00aaff" } });
  assert.deepEqual(settingsFromQuery("?viz=sparkle&mirror=yes&background=red"), {});
  assert.equal(createLocalStore(settingsFromQuery("?mirror=0")).get("mirror"), false);
  assert.deepEqual(initMessage(createLocalStore()).config, { binary: true, resolution: { width: 640, height: 480 } });
  store.set("class_filter", ["person"]);
  store.set("colormap", "ade20k");
  assert.deepEqual(updateVizMessage(store), {
    type: "update_viz",
    settings: { overlay_opacity: 0.6, visualization_mode: "filled", class_filter: ["person"], colormap: "ade20k" },
  });
  assert.equal(updateVizMessage(createLocalStore()).settings.class_filter, null);
  assert.deepEqual(settingsFromQuery("?resolution=big&quality=0"), {});
  assert.deepEqual(settingsFromQuery("?in_flight=1&upload=full"), { max_in_flight: 1, upload_size: "full" });
  assert.deepEqual(settingsFromQuery("?in_flight=9&upload=huge"), {});
  assert.deepEqual(settingsFromQuery("?in_flight=6&display=aligned"), { max_in_flight: 6, display: "aligned" });
  assert.deepEqual(settingsFromQuery("?in_flight=auto&display=live"), { max_in_flight: "auto", display: "live" });
  assert.deepEqual(settingsFromQuery("?in_flight=0&display=sideways"), {});
  // the page starts the camera by itself, as the widget does; ?autostart=0 waits for Start
  assert.equal(createLocalStore(pageSettings("")).get("running"), true);
  assert.equal(createLocalStore(pageSettings("?autostart=1")).get("running"), true);
  assert.equal(createLocalStore(pageSettings("?autostart=0")).get("running"), false);
});

test("a stopped stream: the stats say so (no old FPS, latency or stages), the legend shows no shares", async () => {
  const { statsText } = await import("../src/stats.js");
  const { legendMode } = await import("../src/legend.js");
  const live = { fps: 26.7, latency_ms: 41, inference_ms: 12, profile: "person", backend: "onnxruntime", device: "cpu", dropped: 3 };
  assert.deepEqual(statsText(live), {
    fps: "26.7 FPS",
    latency: "latency 41 ms",
    info: "person · onnxruntime/cpu · inference 12 ms · 3 dropped",
    note: "",
  });
  const stopped = statsText({ ...live, stopped: true, slow: "person is slow here" });
  assert.deepEqual(stopped, { fps: "Stopped", latency: "", info: "person · onnxruntime/cpu", note: "" });
  assert.equal(legendMode(true, true), "entries");
  assert.equal(legendMode(true, false), "stopped"); // a kernel source's last frame stays drawn
  assert.equal(legendMode(false, false), "empty");
  assert.equal(legendMode(false, true), "empty");
});

test("banner: a failed switch outlasts the results that go on, and ends with the next profile", async () => {
  const { clearedBy, endsWithResults } = await import("../src/banner.js");
  const frameError = { code: "INFERENCE_FAILED", message: "x", recoverable: true, source: "server" };
  const failedSwitch = { code: "WEIGHTS_UNAVAILABLE", message: "x", recoverable: true, source: "server", until: "profile" };
  const camera = { code: "CAMERA_DENIED", message: "x", recoverable: false, source: "client" };
  assert.equal(endsWithResults(frameError), true);
  assert.equal(endsWithResults(/** @type {any} */ (failedSwitch)), false);
  assert.equal(endsWithResults(camera), false);
  assert.equal(endsWithResults(null), false);
  // the widget's error trait mirrors the kernel's errors: its clearing ends a server error
  assert.equal(clearedBy("trait", "server"), true);
  assert.equal(clearedBy("trait", "client"), false);
  assert.equal(clearedBy("server", "trait"), false);
  assert.equal(clearedBy("client", "client"), true);
});
