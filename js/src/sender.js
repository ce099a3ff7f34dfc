// The capture loop: grab, encode and send frames while the in-flight window (flow.js) has
// room, with the client's timings in each frame and the feedback about the last one drawn.
// Adaptive quality (the latest result's `quality`) sets the capture size, the JPEG quality
// and a frame-rate cap; each frame sent is also held for the aligned display (aligned.js).
// On loopback the frames go raw (I420) and ask for a raw mask (pixels.js). While the
// kernel does not answer, one probe frame at a time (link.js).

import { holdFrames } from "./aligned.js";
import { jpegQuality, paceDelay, uploadSide } from "./flow.js";
import { roomToSend, sendCap } from "./link.js";
import { frameEncoding } from "./pixels.js";
import { clientNow } from "./protocol.js";

/** @typedef {import("./session-state.js").Session} Session */
/** @typedef {import("./protocol.js").Header} Header */

const round1 = (/** @type {number} */ x) => Math.round(x * 10) / 10;

/**
 * The session's `pump()`: safe to call any time; one loop runs at a time.
 * @param {Session} s
 */
export function sender(s) {
  const { store, transport, camera, flow, state } = s;

  const canCapture = () =>
    !state.destroyed &&
    !state.linkLost &&
    !state.hidden &&
    !s.kernelSource() &&
    !!store.get("running") &&
    !!state.ready &&
    Number(state.ready.input_size) > 0 &&
    camera.active &&
    (!transport.isOpen || transport.isOpen());

  async function pump() {
    if (state.pumping) return;
    state.pumping = true;
    try {
      while (canCapture() && roomToSend(s.watch, flow)) {
        const wait = paceDelay(sendCap(s.watch, state.quality), state.lastSent, performance.now());
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await camera.nextFrame();
        if (!canCapture() || !roomToSend(s.watch, flow)) break;
        const uploadSize = store.get("upload_size") || "model";
        const side = uploadSide(uploadSize, Number(/** @type {Header} */ (state.ready).input_size), state.quality);
        const encoding = frameEncoding(store.get("frame_encoding"));
        // aligned.js: each result's own frame, kept only where it may be drawn
        const hold = holdFrames(store.get("display"), state.latencyMean.mean(performance.now()), s.frameMs(), state.aligned);
        const grab = await camera.grab(side, jpegQuality(store.get("jpeg_quality"), state.quality), encoding, hold);
        if (!grab || !canCapture()) {
          if (grab && grab.held) grab.held.then((b) => b && b.close());
          break;
        }
        state.seq += 1;
        const seq = state.seq;
        if (grab.held) s.held.put(seq, grab.held);
        /** @type {Header} */
        const header = {
          type: "frame",
          seq,
          t_capture: grab.t_capture,
          width: grab.width,
          height: grab.height,
          client: { capture_ms: round1(grab.capture_ms), encode_ms: round1(grab.encode_ms) },
        };
        if (grab.encoding === "i420") Object.assign(header, { encoding: "i420", mask_encoding: "raw" });
        if (state.feedback) header.feedback = state.feedback;
        state.feedback = null;
        const now = performance.now();
        state.means.capture.add(grab.capture_ms, now);
        state.means.encode.add(grab.encode_ms, now);
        const t_sent = clientNow();
        state.lastSent = now;
        flow.begin({ seq, t_capture: grab.t_capture, t_sent, bytes: grab.bytes.length });
        transport.send(header, [grab.bytes]);
        s.watch.sent();
        s.emit("segwidget:frame", {
          seq,
          t_capture: grab.t_capture,
          t_sent,
          bytes: grab.bytes.length,
          width: grab.width,
          height: grab.height,
          capture_ms: grab.capture_ms,
          encode_ms: grab.encode_ms,
          in_flight: flow.size,
          max_in_flight: flow.maxInFlight,
          upload_size: uploadSize,
          encoding: grab.encoding,
          capture: grab.via,
        });
      }
    } catch (err) {
      console.error("segwidget: capture failed", err);
    } finally {
      state.pumping = false;
    }
  }

  return pump;
}
