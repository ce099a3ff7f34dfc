"""The browser front-end: its node unit tests, and that the committed bundle is up to date."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from segwidget.bench.harness.browser import read_canvas

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
BUNDLE = ("widget.js", "page.js", "widget.css")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_unit_tests():
    proc = subprocess.run(
        [NODE, "--test", "js/test/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
    assert "# fail 0" in proc.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_es_modules_are_scoped_to_the_js_folder():
    """Only js/ is "type": "module": a root one applies to every script below the clone,
    JupyterLab's own CommonJS ones in a .venv inside it too (Node traces at `jupyter lab`)."""
    assert "type" not in json.loads((ROOT / "package.json").read_text())
    assert json.loads((ROOT / "js" / "package.json").read_text())["type"] == "module"
    inside = ROOT / ".venv-probe-tool.js"  # a CommonJS script, as if in a .venv in the clone
    try:
        inside.write_text("console.log(typeof require);")
        out = subprocess.run([NODE, str(inside)], capture_output=True, text=True, timeout=60)
    finally:
        inside.unlink(missing_ok=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "function"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.skipif(
    not (ROOT / "node_modules" / "esbuild").is_dir(),
    reason="esbuild is not installed (run `npm ci`)",
)
def test_committed_bundle_is_up_to_date(tmp_path):
    proc = subprocess.run(
        [NODE, "js/build.mjs", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stale = [
        name
        for name in BUNDLE
        if (tmp_path / name).read_bytes() != (ROOT / "segwidget" / "static" / name).read_bytes()
    ]
    assert not stale, f"segwidget/static/{stale} differ from a fresh build: run `npm run build`"


def test_page_loads_the_bundle_with_relative_urls():
    html = (ROOT / "segwidget" / "static" / "index.html").read_text()
    assert '<script type="module" src="static/page.js">' in html
    assert 'href="static/widget.css"' in html
    for name in BUNDLE:
        assert (ROOT / "segwidget" / "static" / name).is_file()


# ---------------------------------------------------------------------------------------------
# The built widget bundle in headless Chromium, against a fake anywidget model whose "kernel"
# answers in JavaScript (no Python server involved): fake camera in, pixels and headers out.

HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/static/widget.css"></head>
<body><div id="out"></div>
<script type="module">
import widget from "/static/widget.js";

const LABELS = ["background", "thing"];
const deflate = async (bytes) => new Uint8Array(await new Response(
  new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
const asDataView = (u8) => new DataView(u8.buffer, u8.byteOffset, u8.byteLength); // as JupyterLab

class FakeModel {
  constructor(traits) {
    this.traits = traits;
    this.handlers = new Map();
    this.sent = [];
    this.waiting = [];
    this.maxInFlight = 0;
    this.saves = 0;
  }
  get(k) { return this.traits[k]; }
  set(k, v) { this.traits[k] = v; this.emit("change:" + k); }
  save_changes() { this.saves++; }
  on(ev, cb) { if (!this.handlers.has(ev)) this.handlers.set(ev, new Set()); this.handlers.get(ev).add(cb); }
  off(ev, cb) { this.handlers.get(ev)?.delete(cb); }
  emit(ev, ...args) { for (const cb of [...(this.handlers.get(ev) || [])]) cb(...args); }
  send(content, callbacks, buffers = []) {
    const head = buffers[0] ? [...new Uint8Array(buffers[0].buffer, buffers[0].byteOffset, 3)] : [];
    this.sent.push({ content, head, bytes: buffers[0] ? buffers[0].byteLength : 0 });
    if (content.type === "hello") {
      this.emit("msg:custom", { type: "ready", profile: "fast", input_size: 160, labels: LABELS,
        palettes: { voc: [[0, 0, 0], [255, 0, 0]] }, default_colormap: "voc", info: {} }, []);
    } else if (content.type === "frame" && this.delay) {
      // A far kernel: every frame answered `delay` ms after it was sent (a long round trip)
      this.waiting.push(content);
      this.maxInFlight = Math.max(this.maxInFlight, this.waiting.length);
      setTimeout(() => this.answer(this.waiting.shift()), this.delay);
    } else if (content.type === "frame") {
      // A slow kernel: it answers the oldest frame 100 ms after a second one is waiting, so a
      // client that does not wait for answers gets a third frame in meanwhile.
      this.waiting.push(content);
      this.maxInFlight = Math.max(this.maxInFlight, this.waiting.length);
      if (this.waiting.length === 2) setTimeout(() => this.answer(this.waiting.shift()), 100);
    }
  }
  async answer(frame) {
    const w = Math.ceil(frame.width / 2), h = Math.ceil(frame.height / 2);
    const mask = await deflate(new Uint8Array(w * h).fill(1)); // all "thing"
    this.emit("msg:custom", { type: "result", seq: frame.seq, t_capture: frame.t_capture, profile: "fast",
      mask: { width: w, height: h, encoding: "deflate" }, classes: [[1, 1.0]], timings: {}, server_ms: 5 },
      [asDataView(mask)]);
  }
}
window.deflate = deflate;
window.frameEvents = [];
document.addEventListener("segwidget:frame", (e) => window.frameEvents.push(e.detail), true);
const query = new URLSearchParams(location.search);
window.model = new FakeModel({ profile: "fast", viz_mode: "filled", opacity: 1, class_filter: [],
  colormap: "voc", custom_palette: [], show_fps: true, show_legend: true, resolution: [640, 480],
  jpeg_quality: 80, running: query.get("running") === "1",
  // this fake kernel answers only with two frames waiting: a fixed window of two by default
  max_in_flight: query.get("in_flight") === "auto" ? "auto" : 2,
  display: query.get("display") || "live",
  frame_encoding: new URLSearchParams(location.search).get("encoding") || "auto",
  source_kind: new URLSearchParams(location.search).get("source") || "browser",
  labels: [], stats: {}, error: null });
window.model.delay = Number(query.get("delay")) || 0;
window.cleanup = widget.render({ model: window.model, el: document.getElementById("out") });
</script></body></html>
"""


def _chromium() -> str | None:
    env = os.environ.get("SEGWIDGET_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def widget_page():
    """A function opening the harness with query ``q``; skips without Playwright or Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (or set SEGWIDGET_CHROMIUM)")
    static = ROOT / "segwidget" / "static"
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=chromium,
        args=[
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--no-sandbox",
        ],
    )
    pages = []

    def open_page(q: str = ""):
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # http://localhost is a secure context, so getUserMedia is allowed; nothing listens
        # there, every request is answered here.
        page.route(
            "http://localhost/harness*",
            lambda r: r.fulfill(body=HARNESS, content_type="text/html"),
        )
        page.route(
            "http://localhost/static/*",
            lambda r: r.fulfill(path=str(static / r.request.url.rsplit("/", 1)[1])),
        )
        page.goto(f"http://localhost/harness?{q}")
        page.errors = errors
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()
    browser.close()
    pw.stop()


@pytest.mark.e2e
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_widget_streams_the_camera_and_draws_results(widget_page):
    page = widget_page("running=1")
    page.wait_for_function(
        "() => model.sent.filter(m => m.content.type === 'frame').length >= 8", timeout=20000
    )
    sent = page.evaluate("() => model.sent")
    assert sent[0]["content"] == {"type": "hello"}
    frames = [m for m in sent if m["content"]["type"] == "frame"]
    first = frames[0]["content"]
    # the fake camera is 640x480: downscaled to input_size 160, aspect kept; the page is on
    # localhost, so the frames go raw (I420) and ask for raw masks
    assert (first["width"], first["height"]) == (160, 120)
    assert all(m["content"]["encoding"] == "i420" for m in frames)
    assert all(m["content"]["mask_encoding"] == "raw" for m in frames)
    assert all(m["bytes"] == 160 * 120 * 3 // 2 for m in frames)
    # the fake camera's frames are I420: taken from its planes, no canvas (frame-grab.js)
    events = page.evaluate("() => window.frameEvents")
    assert events, "segwidget:frame events"
    assert {e["capture"] for e in events} == {"video-frame"}
    assert [m["content"]["seq"] for m in frames] == list(range(1, len(frames) + 1))
    assert set(first["client"]) == {"capture_ms", "encode_ms"}
    assert page.evaluate("() => model.maxInFlight") == 2
    feedback = [m["content"]["feedback"] for m in frames if "feedback" in m["content"]]
    assert feedback, "frames after the first rendered result carry feedback"
    assert all(f["latency_ms"] >= 100 and f["network_ms"] >= 0 for f in feedback)
    assert {"seq", "latency_ms", "render_ms", "decode_ms", "network_ms"} <= set(feedback[-1])
    # what the view measured of the link (js/src/window.js) and how it drew (aligned.js)
    link = {"link_base_ms", "link_queue_ms", "window", "window_want", "link_limited", "up_kbps"}
    assert link <= set(feedback[-1])
    assert feedback[-1]["aligned"] == 0
    # opacity 1, every pixel class 1 -> the stage shows the palette colour: the video itself
    # under an overlay drawn once per result (js/src/stage-renderer.js), read composited
    stage = page.evaluate(
        "() => { const s = document.querySelector('.sw-stage');"
        " return [s.dataset.renderer, getComputedStyle(s.querySelector('.sw-video')).opacity] }"
    )
    assert stage == ["overlay", "1"]
    img = read_canvas(page.locator(".sw-canvas"))
    assert img.shape == (480, 640, 4)
    assert img[240, 320].tolist() == [255, 0, 0, 255]
    legend = page.evaluate(
        "() => [...document.querySelectorAll('.sw-legend-item')].map(e => e.textContent)"
    )
    assert legend == ["thing100%"]

    # Python sets side-by-side: the canvas doubles in width with the next draw
    page.evaluate("() => model.set('viz_mode', 'side-by-side')")
    page.wait_for_function("() => document.querySelector('.sw-canvas').width === 1280")

    # Stop from the toolbar: the trait goes false and the camera's tracks end
    page.evaluate(
        "() => { window.track = document.querySelector('.sw-video').srcObject.getTracks()[0] }"
    )
    page.click(".sw-start")
    state = page.evaluate(
        "() => [model.get('running'), document.querySelector('.sw-video').srcObject, track.readyState]"
    )
    assert state == [False, None, "ended"]
    page.wait_for_function("() => model.saves > 0")  # the trait change is synced to Python

    # Running again, then the view's cleanup stops the tracks and empties the element
    page.evaluate("() => model.set('running', true)")
    page.wait_for_function("() => document.querySelector('.sw-video').srcObject !== null")
    ended = page.evaluate(
        "() => { const tracks = document.querySelector('.sw-video').srcObject.getTracks();"
        " cleanup(); return [tracks.map(t => t.readyState), document.getElementById('out').children.length] }"
    )
    assert ended == [["ended"], 0]
    assert page.errors == []


@pytest.mark.e2e
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_far_kernel_auto_window_and_aligned_display(widget_page):
    # every frame answered 250 ms after it was sent: the "auto" window grows past two (about
    # 250 ms x 30 FPS + 1), and "auto" display draws each result over its own frame
    page = widget_page("running=1&in_flight=auto&display=auto&delay=250")
    page.wait_for_function(
        "() => document.querySelector('.sw-stage').dataset.display === 'aligned'", timeout=30000
    )
    page.wait_for_function(
        "() => model.sent.filter(m => m.content.type === 'frame').length >= 60", timeout=30000
    )
    assert page.evaluate("() => model.maxInFlight") > 2
    windows = [e["max_in_flight"] for e in page.evaluate("() => window.frameEvents")]
    assert max(windows) > 2
    assert all(isinstance(w, int) and 1 <= w <= 12 for w in windows)
    frames = [m["content"] for m in page.evaluate("() => model.sent")]
    feedback = [f["feedback"] for f in frames if f["type"] == "frame" and "feedback" in f]
    assert feedback[-1]["aligned"] == 1
    assert feedback[-1]["window"] > 2
    assert feedback[-1]["link_base_ms"] >= 200
    # drawn on the canvas (the held frame and its mask), not the live video under an overlay
    stage = page.evaluate("() => document.querySelector('.sw-stage').dataset.renderer")
    assert stage != "overlay"
    img = read_canvas(page.locator(".sw-canvas"))
    assert img.shape == (480, 640, 4)
    assert img[240, 320].tolist() == [255, 0, 0, 255]  # opacity 1, every pixel class 1
    # "live" goes back to the video under the overlay at once
    page.evaluate("() => model.set('display', 'live')")
    page.wait_for_function(
        "() => document.querySelector('.sw-stage').dataset.display === 'live'", timeout=10000
    )
    assert page.errors == []


@pytest.mark.e2e
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_frame_encoding_jpeg_sends_jpeg_even_on_localhost(widget_page):
    page = widget_page("running=1&encoding=jpeg")
    page.wait_for_function(
        "() => model.sent.filter(m => m.content.type === 'frame').length >= 3", timeout=20000
    )
    frames = [m for m in page.evaluate("() => model.sent") if m["content"]["type"] == "frame"]
    assert all(m["head"] == [0xFF, 0xD8, 0xFF] for m in frames)
    assert all("encoding" not in m["content"] for m in frames)
    assert page.errors == []


@pytest.mark.e2e
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_widget_draws_kernel_frames_with_their_mask(widget_page):
    page = widget_page("running=1&source=kernel")
    page.evaluate(
        """async () => {
      const W = 200, H = 100;
      const c = new OffscreenCanvas(W, H);
      const ctx = c.getContext('2d');
      ctx.fillStyle = 'rgb(100, 100, 100)';
      ctx.fillRect(0, 0, W, H);
      const jpeg = new Uint8Array(await (await c.convertToBlob({type: 'image/jpeg', quality: 1})).arrayBuffer());
      const mask = new Uint8Array(20 * 10).map((_, i) => (i % 20) < 10 ? 0 : 1);
      model.set('opacity', 0.6);
      model.emit('msg:custom', {type: 'result', seq: 1, t_capture: 0, mask: {width: 20, height: 10, encoding: 'deflate'},
        classes: [[0, 0.5], [1, 0.5]], frame: {width: W, height: H, encoding: 'jpeg'}}, [await deflate(mask), jpeg]);
    }"""
    )
    page.wait_for_function("() => document.querySelector('.sw-canvas').width === 200")
    result = page.evaluate(
        """() => {
      const W = 200, H = 100;
      const cv = document.querySelector('.sw-canvas');
      const d = cv.getContext('2d').getImageData(0, 0, W, H).data;
      const px = (x, y) => [...d.slice((y * W + x) * 4, (y * W + x) * 4 + 4)];
      return {size: [cv.width, cv.height], left: px(20, 50), right: px(180, 50),
              frames: model.sent.filter(m => m.content.type === 'frame').length,
              camera: document.querySelector('.sw-video').srcObject};
    }"""
    )
    assert result["size"] == [200, 100]
    # filled at 0.6 over grey 100: black class 0 -> 40, red class 1 -> 40 + 153
    assert result["left"] == [40, 40, 40, 255]
    assert result["right"] == [193, 40, 40, 255]
    assert result["frames"] == 0  # a kernel-side source: the browser camera stays off
    assert result["camera"] is None

    # Stopped: the last frame stays drawn, but the stats and legend say the stream stopped
    # (no old FPS or shares), and say it runs again once it does
    live = "() => /FPS/.test(document.querySelector('.sw-fps').textContent)"
    page.wait_for_function(live)
    assert page.locator(".sw-legend-item").count() == 2
    page.evaluate("() => model.set('running', false)")
    page.wait_for_function(
        "() => document.querySelector('.sw-fps').textContent === 'Stopped'"
        " && document.querySelector('.sw-legend').textContent === 'Stream stopped'"
    )
    assert page.locator(".sw-latency").text_content() == ""
    assert page.locator(".sw-stage-seg").count() == 0
    page.evaluate("() => model.set('running', true)")
    page.wait_for_function(live)
    page.wait_for_function("() => document.querySelectorAll('.sw-legend-item').length === 2")
    assert page.errors == []


@pytest.mark.e2e
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_widget_effects_confidence_buffer_mirror_and_legend_click(widget_page):
    """replace / confidence views from the wire's confidence buffer; mirror; legend clicks."""
    page = widget_page("running=1&source=kernel")
    page.evaluate(
        """async () => {
      const W = 200, H = 100;
      const c = new OffscreenCanvas(W, H);
      const ctx = c.getContext('2d');
      ctx.fillStyle = 'rgb(100, 100, 100)';
      ctx.fillRect(0, 0, W, H);
      const jpeg = new Uint8Array(await (await c.convertToBlob({type: 'image/jpeg', quality: 1})).arrayBuffer());
      const mask = new Uint8Array(20 * 10);  // all background: the person is in the confidence
      const conf = new Uint8Array(20 * 10).map((_, i) => (i % 20) < 10 ? 0 : 255);
      model.set('viz_mode', 'replace');
      model.set('background', {color: '#0000ff'});
      model.set('mirror', false);
      model.emit('msg:custom', {type: 'result', seq: 1, t_capture: 0,
        mask: {width: 20, height: 10, encoding: 'deflate'},
        confidence: {width: 20, height: 10, encoding: 'deflate'},
        classes: [[0, 0.5], [1, 0.5]], frame: {width: W, height: H, encoding: 'jpeg'}},
        [await deflate(mask), await deflate(conf), jpeg]);
    }"""
    )
    page.wait_for_function("() => document.querySelector('.sw-canvas').width === 200")
    sample = """() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
      const d = document.querySelector('.sw-canvas').getContext('2d').getImageData(0, 0, 200, 100).data;
      const px = (x, y) => [...d.slice((y * 200 + x) * 4, (y * 200 + x) * 4 + 4)];
      resolve({left: px(20, 50), right: px(180, 50)});
    })))"""
    got = page.evaluate(sample)
    assert got == {"left": [0, 0, 255, 255], "right": [100, 100, 100, 255]}
    page.evaluate("() => model.set('mirror', true)")  # selfie view: both flip
    got = page.evaluate(sample)
    assert got == {"left": [100, 100, 100, 255], "right": [0, 0, 255, 255]}
    page.evaluate(
        "() => { model.set('mirror', false); model.set('opacity', 1); model.set('viz_mode', 'confidence'); }"
    )
    got = page.evaluate(sample)
    assert got == {"left": [0, 0, 255, 255], "right": [255, 0, 0, 255]}  # heat: blue .. red

    # the legend: a click shows only that class, a second click all of them again
    page.click(".sw-legend-item[data-label='thing']")
    assert page.evaluate("() => model.get('class_filter')") == ["thing"]
    page.wait_for_function("() => document.querySelectorAll('.sw-legend-item').length === 1")
    page.click(".sw-legend-item[data-label='thing']")
    assert page.evaluate("() => model.get('class_filter')") == []
    assert page.errors == []


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_toolbar_lists_every_colormap_python_has():
    from segwidget.labels import COLORMAPS

    script = (
        "const m = await import(process.argv[1]);process.stdout.write(JSON.stringify(m.COLORMAPS));"
    )
    url = (ROOT / "js" / "src" / "controls.js").as_uri()
    proc = subprocess.run(
        [NODE, "--input-type=module", "-e", script, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert tuple(json.loads(proc.stdout)) == COLORMAPS
