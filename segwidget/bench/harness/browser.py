"""Headless Chromium with a fake camera, driven by Playwright; reading canvases losslessly.

The system Chromium (Debian's ``/usr/bin/chromium``, or ``$SEGWIDGET_CHROMIUM``) is driven
through Playwright's ``executable_path``: never ``playwright install``.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

# A headless, offline, reproducible Chromium with a fake camera that plays a Y4M file and
# grants camera permission without a prompt.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Keep timers and rAF running at full speed in a page that is never "visible".
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


def launch_chromium(
    playwright, executable: str, video: Path, user_data_dir: Path, args: Sequence[str] = ()
):
    """A persistent headless Chromium context whose fake camera plays ``video``.

    ``playwright`` is a started ``sync_playwright()``; every context gets its own
    ``user_data_dir`` (one browser process tree per context).
    """
    user_data_dir.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=executable,
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}", *args],
        viewport={"width": 1400, "height": 1000},
        permissions=["camera"],
        ignore_default_args=["--enable-automation"],
    )


# An init script that keeps every camera stream the page (or frame) is given in
# window.__swStreams, and the count of its live tracks: whether a view released its camera.
JS_RECORD_STREAMS = """
window.__swStreams = [];
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    window.__swStreams.push(stream);
    return stream;
  };
}
"""
JS_LIVE_TRACKS = """() => window.__swStreams.flatMap((s) => s.getTracks())
  .filter((t) => t.readyState === 'live').length"""


def decode_data_url(url: str) -> np.ndarray:
    """RGBA pixels of a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    head, _, data = url.partition(",")
    if not head.startswith("data:image/png;base64"):
        raise ValueError(f"not a PNG data URL: {head[:40]!r}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


# What a segwidget view's stage shows, losslessly: its visible layers (the <video> under a
# transparent overlay canvas, or one opaque canvas; 2D or WebGL) composited as the browser's
# compositor does, read from the DOM and CSS rather than from the view's code: paint order
# (in-flow first, then positioned or transformed, then by z-index), each layer's mirror
# transform and image-rendering, at the bottom layer's intrinsic size. It throws when the
# layers' content boxes on screen do not coincide (an overlay off the video's pixels). Any
# other canvas is copied as it is.
JS_CANVAS_PNG = """(canvas) => {
  const stage = canvas.closest('.sw-stage');
  const style = (el) => getComputedStyle(el);
  const shown = (el) => { const cs = style(el); const r = el.getBoundingClientRect();
    return cs.display !== 'none' && cs.visibility !== 'hidden' && Number(cs.opacity) > 0
      && r.width > 2 && r.height > 2; };
  let layers = stage ? [...stage.querySelectorAll(':scope > video, :scope > canvas')].filter(shown)
    : [canvas];
  if (!layers.length) layers = [canvas];
  // CSS paint order: in-flow boxes, then positioned or transformed ones (z-index auto or 0)
  // in DOM order, then positive z-index ascending
  const rank = (el) => { const cs = style(el); const z = parseInt(cs.zIndex, 10) || 0;
    if (cs.position === 'static' && cs.transform === 'none') return 0;
    return z > 0 ? 1 + z : 1; };
  layers.sort((a, b) => rank(a) - rank(b));
  const size = (el) => (el.tagName === 'VIDEO' ? [el.videoWidth, el.videoHeight]
    : [el.width, el.height]);
  const content = (el) => {
    const r = el.getBoundingClientRect(); const [iw, ih] = size(el);
    if (style(el).objectFit !== 'contain' || !iw || !ih) return [r.left, r.top, r.width, r.height];
    const s = Math.min(r.width / iw, r.height / ih);
    return [r.left + (r.width - iw * s) / 2, r.top + (r.height - ih * s) / 2, iw * s, ih * s];
  };
  const base = content(layers[0]);
  for (const el of layers.slice(1)) {
    const box = content(el);
    if (box.some((v, i) => Math.abs(v - base[i]) > 1.5))
      throw new Error(`segwidget layers misaligned: ${el.className} at ${box} over ${base}`);
  }
  const [W, H] = size(layers[0]);
  const c = document.createElement('canvas');
  c.width = W; c.height = H;
  const ctx = c.getContext('2d');
  for (const el of layers) {
    const m = new DOMMatrix(style(el).transform === 'none' ? undefined : style(el).transform);
    ctx.setTransform(m.a < 0 ? -1 : 1, 0, 0, 1, m.a < 0 ? W : 0, 0);
    ctx.imageSmoothingEnabled = style(el).imageRendering !== 'pixelated';
    ctx.drawImage(el, 0, 0, W, H);
  }
  return c.toDataURL('image/png');
}"""


def read_canvas(locator) -> np.ndarray:
    """RGBA pixels of the canvas a Playwright locator points at: for a segwidget view's
    canvas, what its stage shows (the video and the overlay composited, see above)."""
    return decode_data_url(locator.evaluate(JS_CANVAS_PNG))


def palette_fraction(rgba: np.ndarray, palette: Iterable[Iterable[int]]) -> float:
    """Fraction of pixels whose RGB is exactly one of ``palette``'s colours."""
    rgb = rgba[..., :3].reshape(-1, 3).astype(np.int32)
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    pal = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], dtype=np.int32)
    return float(np.isin(codes, pal).mean())


def colour_fraction(rgba: np.ndarray, colour: Iterable[int]) -> float:
    return float(np.all(rgba[..., :3] == np.asarray(list(colour))[None, None], axis=-1).mean())


_BUNDLE = """
const { build } = await import("esbuild");
const out = await build({ stdin: { contents: process.argv[1], resolveDir: process.cwd() },
  bundle: true, format: "iife", globalName: "SW", write: false, logLevel: "error" });
process.stdout.write(out.outputFiles[0].text);
"""


def bundle_sources(entry: str, root: Path) -> str | None:
    """A script defining the global ``SW``: ``entry`` (an ES module importing from
    ``./js/src/...``) bundled with the checkout ``root``'s esbuild, to add to a test page; None
    where node or esbuild (``npm ci``) is missing."""
    node = shutil.which("node")
    if node is None or not (root / "node_modules" / "esbuild").is_dir():
        return None
    return subprocess.run(
        [node, "--input-type=module", "-e", _BUNDLE, entry],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
