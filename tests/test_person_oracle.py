"""The converted person models against MediaPipe's own runtime (not against themselves).

The npm package ``@mediapipe/selfie_segmentation`` (installed by ``npm ci``) ships MediaPipe's
WASM solution next to the ``.tflite`` files the ONNX graphs were converted from. It runs in
headless Chromium on WebGL 2 over SwiftShader, served from a local folder: each photo goes
through ``send({image})`` and the person probability comes back in the alpha channel of
``segmentationMask`` at the photo's size. The converted graph's confidence is upsampled the
way MediaPipe upsamples its own (bilinear, to the photo's size) and both are thresholded at
0.5.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from segwidget.bench.harness.browser import CHROMIUM_ARGS
from segwidget.bench.harness.util import chromium_path, missing_module

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@mediapipe" / "selfie_segmentation"
#: The harness's offline, reproducible headless Chromium, with WebGL 2 on SwiftShader for
#: MediaPipe's GPU graph instead of no GPU at all.
CHROMIUM_FLAGS = (
    *(a for a in CHROMIUM_ARGS if a != "--disable-gpu"),
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
)
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "grass", "brick")
MODELS = {0: "selfie_square", 1: "selfie_landscape"}  # MediaPipe modelSelection -> ONNX file
MIN_AGREEMENT = 0.99
#: The probabilities themselves, 0..255: a shifted or blurred mask could still agree >= 99 %.
MAX_MEAN_ABS_DIFF = 2.0

PAGE = """<!doctype html><html><body>
<script src="selfie_segmentation.js"></script>
<script>
window.segment = async (modelSelection, width, height, rgbaB64) => {
  const bytes = Uint8ClampedArray.from(atob(rgbaB64), (c) => c.charCodeAt(0));
  const src = document.createElement('canvas');
  src.width = width; src.height = height;
  src.getContext('2d').putImageData(new ImageData(bytes, width, height), 0, 0);
  if (!window.solution || window.solutionModel !== modelSelection) {
    window.solution = new SelfieSegmentation({locateFile: (f) => f});
    window.solution.setOptions({modelSelection, selfieMode: false});
    window.solutionModel = modelSelection;
  }
  const result = new Promise((resolve) => window.solution.onResults(resolve));
  await window.solution.send({image: src});
  const mask = (await result).segmentationMask;
  const out = document.createElement('canvas');
  out.width = width; out.height = height;
  const ctx = out.getContext('2d');
  ctx.drawImage(mask, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  let alpha = '';
  for (let i = 3; i < rgba.length; i += 4) alpha += String.fromCharCode(rgba[i]);
  return btoa(alpha);
};
</script></body></html>"""


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/oracle.html"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mediapipe():
    """``segment(model_selection, rgb)`` -> MediaPipe's person probability (uint8, photo size)."""
    if missing_module("playwright"):
        pytest.skip("the 'playwright' Python package is not installed (pip install playwright)")
    chromium = chromium_path()
    if not chromium:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    if not (PACKAGE / "selfie_segmentation.js").exists():
        pytest.skip(f"the npm package is not installed in {PACKAGE.parent.parent} (npm ci)")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(Handler, directory=str(PACKAGE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
    page = browser.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{server.server_port}/oracle.html")
    page.wait_for_function("typeof SelfieSegmentation === 'function'")

    def segment(model_selection: int, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
        b64 = base64.b64encode(rgba.tobytes()).decode()
        out = page.evaluate("(a) => window.segment(...a)", [model_selection, w, h, b64])
        assert not errors, errors
        return np.frombuffer(base64.b64decode(out), np.uint8).reshape(h, w)

    yield segment
    browser.close()
    pw.stop()
    server.shutdown()


def converted(model: str, rgb: np.ndarray) -> np.ndarray:
    """The shipped ONNX graph's person probability (uint8), upsampled to the photo's size.

    Both models run on every photo (the engine would pick one by aspect), through the
    engine's own preprocessing."""
    import onnxruntime as ort

    from segwidget.models import model_path
    from segwidget.preprocess import resize, to_nchw
    from segwidget.profiles import PROFILES

    session = ort.InferenceSession(str(model_path(model)), providers=["CPUExecutionProvider"])
    _, _, mh, mw = session.get_inputs()[0].shape
    x = to_nchw(resize(rgb, mh, mw, PROFILES["person"].resize))  # the engine's preprocessing
    _, confidence = session.run(None, {"image": x})
    h, w = rgb.shape[:2]
    return cv2.resize(confidence[0], (w, h), interpolation=cv2.INTER_LINEAR)


AGREEMENT: dict[str, dict[str, float]] = {}


@pytest.mark.parametrize("selection", sorted(MODELS))
def test_converted_models_agree_with_mediapipe(mediapipe, selection):
    figures = {}
    for name in PHOTOS:
        rgb = photo(name)
        their_p, our_p = mediapipe(selection, rgb), converted(MODELS[selection], rgb)
        theirs, ours = their_p >= 128, our_p >= 128
        figures[name] = {
            "agreement": round(float((theirs == ours).mean()), 4),
            "mean_abs_diff_255": round(float(np.abs(their_p.astype(int) - our_p).mean()), 2),
            "mediapipe_person": round(float(theirs.mean()), 3),
            "converted_person": round(float(ours.mean()), 3),
        }
    AGREEMENT[MODELS[selection]] = figures
    print(json.dumps({MODELS[selection]: figures}))
    # Real photos with a clear subject and without one; all must agree.
    for name, f in figures.items():
        assert f["agreement"] >= MIN_AGREEMENT, (name, f)
        assert f["mean_abs_diff_255"] < MAX_MEAN_ABS_DIFF, (name, f)
    people = [n for n in ("astronaut", "camera") if figures[n]["mediapipe_person"] > 0.2]
    assert len(people) == 2, figures  # the oracle itself sees the people


#: The issue-19 target: ``mask_at()`` at the photo's full resolution against the runtime.
MIN_MASK_AT_AGREEMENT = 0.9995


def test_mask_at_agrees_with_mediapipe_at_full_resolution(mediapipe):
    """The engine's own result, as a user gets it: ``mask_at()`` (the confidence scaled
    bilinearly and cut at 0.5) against MediaPipe's mask for the model the engine picked.

    The bar is 99.95 %, or the model's own limit where that is lower: the converted graph's
    float confidence scaled by OpenCV (``converted``) on the same photo (chelsea, a cat,
    on the landscape model: the two runtimes' probabilities differ there, not the scaling)."""
    from segwidget import Engine
    from segwidget.postprocess import upsample_mask

    engine = Engine("person")
    selection = {v: k for k, v in MODELS.items()}
    figures = {}
    for name in PHOTOS:
        rgb = photo(name)
        h, w = rgb.shape[:2]
        res = engine.segment(rgb)
        their_p = mediapipe(selection[res.extra["model"]], rgb)
        theirs = their_p >= 128
        limit = (converted(res.extra["model"], rgb) >= 128) == theirs
        figures[name] = {
            "model": res.extra["model"],
            "agreement": round(float((theirs == (res.mask_at(h, w) == 1)).mean()), 5),
            "nearest": round(float((theirs == (upsample_mask(res.mask, h, w) == 1)).mean()), 5),
            "model_limit": round(float(limit.mean()), 5),
        }
    print(json.dumps({"mask_at": figures}))
    for name, f in figures.items():
        assert f["agreement"] >= min(MIN_MASK_AT_AGREEMENT, f["model_limit"] - 2e-4), (name, f)
        assert f["agreement"] >= f["nearest"], (name, f)
    assert sum(f["agreement"] >= MIN_MASK_AT_AGREEMENT for f in figures.values()) >= 6, figures
