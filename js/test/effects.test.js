import assert from "node:assert/strict";
import { test } from "node:test";

import { BackgroundSource, EffectsPainter, drawSource } from "../src/backdrop.js";
import {
  AlphaSmoother,
  composeConfidence,
  coverRect,
  flipRows,
  heatLut,
  mirrorPlane,
  personAlpha,
  personIndex,
  resolveMirror,
} from "../src/effects.js";
import { alphaAt } from "../src/edges.js";
import { isolateClass } from "../src/legend.js";
import { pickerColor } from "../src/effect-controls.js";
import { VIZ_MODES } from "../src/renderer.js";

/** A 2D context that records what is drawn, and the canvases it was drawn with. */
function fakeCanvas(w, h, log, name) {
  const canvas = { width: w, height: h, name };
  const ctx = {
    canvas,
    filter: "none",
    globalCompositeOperation: "source-over",
    imageSmoothingEnabled: false,
    fillStyle: "",
    transform: [1, 0, 0, 1, 0, 0],
    createImageData: (iw, ih) => ({ width: iw, height: ih, data: new Uint8ClampedArray(iw * ih * 4) }),
    putImageData: (img) => log.push([name, "put", [...img.data]]),
    clearRect: (...a) => log.push([name, "clear", ...a]),
    fillRect: (...a) => log.push([name, "fill", ctx.fillStyle, ...a]),
    setTransform: (...t) => {
      ctx.transform = t;
    },
    drawImage: (src, ...a) => log.push([name, "draw", src.name || src, ctx.filter, ctx.globalCompositeOperation, ctx.transform.join(","), ...a]),
  };
  canvas.getContext = () => ctx;
  return canvas;
}

test("VIZ_MODES lists the effects after the class modes", () => {
  assert.deepEqual(VIZ_MODES, ["filled", "contour", "side-by-side", "blend", "blur", "replace", "confidence"]);
});

test("person alpha: the confidence when sent, else the person class", () => {
  assert.equal(personIndex(["background", "person"]), 1);
  assert.equal(personIndex(["background", "cat"]), null);
  const mask = { data: new Uint8Array([0, 15, 15, 3]), width: 2, height: 2 };
  // the person class's share of each 3x3 neighbourhood (border replicated): round(255 n / 9)
  assert.deepEqual([...personAlpha(mask, null, 15)], [113, 142, 142, 113]);
  const conf = new Uint8Array([1, 2, 3, 4]);
  assert.equal(personAlpha(mask, conf, 15), conf);
  assert.deepEqual([...personAlpha(mask, null, null)], [0, 0, 0, 0]);
});

test("smoother: exponential moving average with k = 0.9 * smoothing, restarts on a new size", () => {
  const s = new AlphaSmoother();
  const plane = (v, n = 2) => ({ data: new Uint8Array(n).fill(v), width: n, height: 1 });
  assert.deepEqual([...s.update(plane(0), 1).data], [0, 0]);
  assert.deepEqual([...s.update(plane(255), 1).data], [26, 26]); // 25.5 rounds up, as numpy
  assert.deepEqual([...s.update(plane(255), 1).data], [48, 48]);
  assert.deepEqual([...s.update(plane(100, 3), 1).data], [100, 100, 100]);
  assert.deepEqual([...s.update(plane(0, 3), 0).data], [0, 0, 0]); // smoothing 0: off
  const half = new AlphaSmoother();
  half.update(plane(0), 0.5);
  assert.deepEqual([...half.update(plane(255), 0.5).data], [140, 140]);
});

test("heat map: blue, cyan, green, yellow, red; confidence view mixes it at the opacity", () => {
  const lut = heatLut();
  const at = (v) => [...lut.subarray(v * 3, v * 3 + 3)];
  assert.deepEqual(at(0), [0, 0, 255]);
  assert.deepEqual(at(32), [0, 128, 255]);
  assert.deepEqual(at(128), [0, 255, 0]);
  assert.deepEqual(at(255), [255, 0, 0]);
  const video = new Uint8ClampedArray([100, 100, 100, 255, 100, 100, 100, 255]);
  const out = composeConfidence(video, new Uint8Array([0, 255]), 2, 1, 0.5);
  assert.deepEqual([...out], [50, 50, 178, 255, 178, 50, 50, 255]);
});

test("mirror: planes flip left-right (cached per plane); auto mirrors front cameras only", () => {
  assert.deepEqual([...flipRows(new Uint8Array([1, 2, 3, 4, 5, 6]), 3, 2)], [3, 2, 1, 6, 5, 4]);
  const p = { data: new Uint8Array([1, 2]), width: 2, height: 1 };
  assert.equal(mirrorPlane(p, false), p);
  const m = mirrorPlane(p, true);
  assert.deepEqual([...m.data], [2, 1]);
  assert.equal(mirrorPlane(p, true), m);
  assert.equal(resolveMirror(null, "browser", "user"), true);
  assert.equal(resolveMirror(undefined, "browser", "environment"), false);
  assert.equal(resolveMirror(null, "browser", undefined), false); // a camera that does not say
  assert.equal(resolveMirror(null, "kernel", "user"), false);
  assert.equal(resolveMirror(true, "kernel", undefined), true);
  assert.equal(resolveMirror(false, "browser", "user"), false);
});

test("coverRect scales to cover and centres", () => {
  assert.deepEqual(coverRect(100, 100, 640, 480), [0, -80, 640, 640]);
  assert.deepEqual(coverRect(200, 50, 100, 100), [-150, 0, 400, 100]);
});

test("blur: the person is the video destination-in the smooth alpha, over the blurred video", () => {
  const log = [];
  const made = [];
  const painter = new EffectsPainter({
    createCanvas: (w, h) => {
      const c = fakeCanvas(w, h, log, `work${made.length}`);
      made.push(c);
      return c;
    },
  });
  const view = fakeCanvas(640, 480, log, "view");
  const alpha = { data: new Uint8Array([0, 128, 255, 0]), width: 2, height: 2 };
  painter.paint(view.getContext(), "video", 640, 480, alpha, "blur", { color: "#000000", bitmap: null }, false);
  const [mask, person] = made.map((c) => c.name);
  // the alpha, scaled bilinearly through the edge ramp (no blur: no glow), in a display-size canvas
  const put = log.find((e) => e[1] === "put");
  assert.equal(put[0], mask);
  const want = alphaAt(alpha, 640, 480);
  assert.deepEqual(put[2].filter((_, i) => i % 4 === 3), [...want]);
  assert.ok(!log.some((e) => e[0] === mask && e[1] === "draw"));
  const drawsOn = (name) => log.filter((e) => e[0] === name && e[1] === "draw").map((e) => [e[2], e[3], e[4]]);
  assert.deepEqual(drawsOn(person), [
    ["video", "none", "copy"],
    [mask, "none", "destination-in"],
  ]);
  assert.deepEqual(drawsOn("view"), [
    ["video", "none", "source-over"], // sharp first: a canvas blur fades at the borders
    ["video", "blur(12.80px)", "source-over"],
    [person, "none", "source-over"],
  ]);
  // the same alpha and size again: the mask is reused
  const before = log.filter((e) => e[1] === "put").length;
  painter.paint(view.getContext(), "video", 640, 480, alpha, "blur", { color: "", bitmap: null }, false);
  assert.equal(log.filter((e) => e[1] === "put").length, before);
});

test("replace: colour or image (cover) under the person; mirror flips every video draw", () => {
  const log = [];
  let n = 0;
  const painter = new EffectsPainter({ createCanvas: (w, h) => fakeCanvas(w, h, log, `c${n++}`) });
  const view = fakeCanvas(640, 480, log, "view");
  const alpha = { data: new Uint8Array(4).fill(255), width: 2, height: 2 };
  painter.paint(view.getContext(), "video", 640, 480, alpha, "replace", { color: "#123456", bitmap: null }, true);
  assert.ok(log.some((e) => e[0] === "view" && e[1] === "fill" && e[2] === "#123456"));
  const videoDraws = log.filter((e) => e[1] === "draw" && e[2] === "video");
  assert.ok(videoDraws.length > 0 && videoDraws.every((e) => e[5] === "-1,0,0,1,640,0"));
  log.length = 0;
  const bitmap = { name: "bmp", width: 100, height: 100 };
  painter.paint(view.getContext(), "video", 640, 480, alpha, "replace", { color: "#000000", bitmap }, false);
  const bg = log.find((e) => e[0] === "view" && e[2] === "bmp");
  assert.deepEqual(bg.slice(6), [0, -80, 640, 640]);
});

test("drawSource restores the transform after a mirrored draw", () => {
  const log = [];
  const c = fakeCanvas(10, 10, log, "v").getContext();
  drawSource(c, "video", 10, 10, true);
  assert.equal(log[0][5], "-1,0,0,1,10,0");
  assert.deepEqual(c.transform, [1, 0, 0, 1, 0, 0]);
});

test("background source: a colour at once; without createImageBitmap an image keeps the colour", () => {
  const src = new BackgroundSource();
  assert.equal(src.get().color, "#00ff00");
  src.set({ color: "#abcdef" });
  assert.deepEqual(src.get(), { color: "#abcdef", bitmap: null });
  src.set({ image: new Uint8Array([1, 2, 3]), mime: "image/png" });
  assert.equal(src.get().bitmap, null);
});

test("legend click isolates a class; a second click shows all again", () => {
  assert.deepEqual(isolateClass([], "person"), ["person"]);
  assert.deepEqual(isolateClass(["person"], "person"), []);
  assert.deepEqual(isolateClass(["cat", "person"], "person"), ["person"]);
  assert.deepEqual(isolateClass(["cat"], "person"), ["person"]);
});

test("picker colour: the setting's colour, or the previous one for an image", () => {
  assert.equal(pickerColor({ color: "#ABCDEF" }), "#abcdef");
  assert.equal(pickerColor({ image: new Uint8Array(1) }, "#111111"), "#111111");
  assert.equal(pickerColor(undefined), "#00ff00");
  assert.equal(pickerColor({ color: "red" }, "#222222"), "#222222");
});

test("class steadier: a class changes only when two results in a row agree; off at smoothing 0", async () => {
  const { ClassSteadier } = await import("../src/effects.js");
  const s = new ClassSteadier();
  const plane = (...v) => ({ data: Uint8Array.from(v), width: v.length, height: 1 });
  const a = plane(0, 1, 2);
  assert.equal(s.update(a, 0.5), a);
  const b = plane(1, 1, 0);
  assert.deepEqual([...s.update(b, 0.5).data], [0, 1, 2]); // one result alone: no change
  assert.deepEqual([...s.update(plane(1, 1, 0), 0.5).data], [1, 1, 0]); // two in a row
  assert.equal(s.update(a, 0), a);
});

test("class steadier: four pixels at a time gives the per-pixel rule, aligned or not", async () => {
  const { ClassSteadier } = await import("../src/effects.js");
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 3;
  for (const offset of [0, 1]) {
    const s = new ClassSteadier();
    let shown = null;
    let last = null;
    for (let k = 0; k < 6; k++) {
      const backing = new Uint8Array(offset + 39);
      for (let i = 0; i < backing.length; i++) backing[i] = k % 2 && i % 5 ? backing[i] : rnd();
      const data = backing.subarray(offset);
      const got = s.update({ data, width: 13, height: 3 }, 0.5).data;
      const want = shown ? data.map((v, i) => (v === shown[i] || v === last[i] ? v : shown[i])) : data;
      assert.deepEqual([...got], [...want], `offset ${offset}, result ${k}`);
      [shown, last] = [Uint8Array.from(want), Uint8Array.from(data)];
    }
  }
});

test("view effects: smoothing in every view (soft classes from the smoothed confidence, steadied class masks)", async () => {
  const { ViewEffects } = await import("../src/view-effects.js");
  const values = { viz_mode: "filled", smoothing: 1, background: null, mirror: null };
  const store = { get: (k) => values[k], on: () => () => {} };
  const fx = new ViewEffects(/** @type {any} */ (store), () => {});
  assert.equal(fx.wantsConfidence(), true); // soft edges in every mode
  const mask = { data: Uint8Array.from([0, 1]), width: 2, height: 1 };
  const first = fx.onResult(mask, Uint8Array.from([0, 255]), ["background", "person"]);
  assert.deepEqual([...first.soft.data], [0, 255]);
  const next = fx.onResult(mask, Uint8Array.from([255, 0]), ["background", "person"]);
  assert.deepEqual([...next.soft.data], [26, 230]); // 0.9 of the previous kept
  assert.equal(fx.drawSettings(next, false).soft, next.soft);
  // a profile without a confidence: the class mask steadied, no person alpha in class modes
  const labels = ["background", "cat", "person"];
  fx.onResult({ data: Uint8Array.from([1, 1]), width: 2, height: 1 }, null, labels);
  const flip = fx.onResult({ data: Uint8Array.from([2, 1]), width: 2, height: 1 }, null, labels);
  assert.deepEqual([...flip.classes.data], [1, 1]);
  assert.equal(flip.raw, null);
  values.viz_mode = "blur"; // switched to an effect: the alpha is made for the draw
  assert.ok(fx.drawSettings(flip, false).alpha);
  fx.destroy();
});
