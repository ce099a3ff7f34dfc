"""What the end-to-end bench runs: the page's measuring script, the kernels' cells, defaults."""

from __future__ import annotations

import sys
import time

from ..harness import WIDGET_CELLS

DEFAULT_SECONDS = 15.0
HOST_NAMES = {"lab": "JupyterLab", "voila": "Voila", "page": "segwidget serve page"}


def widget_cells(profile: str = "fast", settings: dict | None = None) -> list[str]:
    """The notebook the widget hosts run: ``SegWidget(profile=..., weights="random")``, with
    ``settings`` (traits) if given."""
    extra = "".join(f", {k}={v!r}" for k, v in (settings or {}).items())
    make = f"w = SegWidget(profile={profile!r}, weights='random'{extra})"
    return [f"from segwidget import SegWidget\n\n{make}\nw"]


#: Results drawn with the new setting before a window starts.
SETTLE_RESULTS = 5
#: CPU used outside the measured processes (other jobs on the machine), in % of one core,
#: above which a row is flagged ``noisy``: its figures are not comparable with the others.
NOISY_OUTSIDE_PCT = 25.0

# Installed in every page before its own scripts: keeps the view's per-frame events and the
# times the view appeared and first drew a result (client clock, ms).
PERF_INIT = r"""(() => {
  if (window.__swperf) return;
  const now = () => performance.timeOrigin + performance.now();
  const rec = (window.__swperf = { frames: [], renders: [], t_view: null, t_first: null });
  document.addEventListener("segwidget:frame", (e) => rec.frames.push(e.detail), true);
  document.addEventListener("segwidget:render", (e) => {
    if (rec.t_first === null) rec.t_first = e.detail.t_rendered;
    rec.renders.push(e.detail);
  }, true);
  const watch = () => {
    const mo = new MutationObserver(() => {
      if (rec.t_view === null && document.querySelector(".segwidget")) {
        rec.t_view = now();
        mo.disconnect();
      }
    });
    mo.observe(document.documentElement, { childList: true, subtree: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();"""

JS_MARK = """() => { const r = window.__swperf; r.frames.length = 0; r.renders.length = 0;
  return performance.timeOrigin + performance.now(); }"""
JS_TAKE = """() => { const r = window.__swperf; return {frames: r.frames.splice(0),
  renders: r.renders.splice(0), now: performance.timeOrigin + performance.now()}; }"""
JS_PEEK = """() => { const r = window.__swperf; return {frames: r.frames.map(f => [f.seq,
  f.max_in_flight, f.upload_size, f.encoding]), renders: r.renders.map(x => x.seq)}; }"""

# The common notebook baseline: a Python loop that reads frames with OpenCV, segments them
# with the same engine, composites with render_overlay, JPEG-encodes and assigns the bytes
# to an ipywidgets.Image. It blocks the kernel while it runs, as such a cell does.
BASELINE_CELLS = [
    """import time
import cv2
import ipywidgets as widgets
from IPython.display import display
from segwidget import get_engine
from segwidget.labels import resolve_palette
from segwidget.render import render_overlay

engine = get_engine("fast", weights="random")
palette = resolve_palette("voc", len(engine.labels))
image = widgets.Image(format="jpeg")
display(image)


def run_baseline(path, seconds, quality=80, opacity=0.6):
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    rows = []
    start = time.perf_counter()
    n = -1
    while time.perf_counter() - start < seconds:
        # Paced like a camera: frame n exists at start + n / fps; a slow loop gets the
        # newest one, a fast loop waits for the next.
        n = max(n + 1, int((time.perf_counter() - start) * fps))
        wait = start + n / fps - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        ok, bgr = cap.read()
        if not ok:  # the clip loops, like the browser's fake camera
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        t_read = time.time() * 1000
        t1 = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        res = engine.segment(rgb)
        t2 = time.perf_counter()
        over = render_overlay(rgb, res.mask, palette, "filled", opacity)
        t3 = time.perf_counter()
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(over, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        t4 = time.perf_counter()
        image.value = jpg.tobytes()
        t5 = time.perf_counter()
        rows.append({"t_read": t_read, "read": (t1 - t0) * 1000, "segment": (t2 - t1) * 1000,
                     "inference": res.timings["inference"], "overlay": (t3 - t2) * 1000,
                     "encode": (t4 - t3) * 1000, "send": (t5 - t4) * 1000,
                     "bytes": len(jpg)})
    cap.release()
    return rows
"""
]

# The widget with ONNX Runtime's intra-op thread pool spinning while it waits for work (ORT's
# own default, ``session.intra_op.allow_spinning = 1``), forced before the engine loads
# whatever segwidget's backend sets: compared with segwidget's own settings.
ORT_SPIN_CELLS = [
    """import onnxruntime as _ort

_Session = _ort.InferenceSession


class _SpinningSession(_Session):
    def __init__(self, path, sess_options=None, *args, **kwargs):
        if sess_options is not None:
            sess_options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        super().__init__(path, sess_options, *args, **kwargs)


_ort.InferenceSession = _SpinningSession
""",
    *WIDGET_CELLS,
]

#: The widget with ONNX Runtime on one intra-op thread (segwidget uses one per core).
ORT_ONE_THREAD_CELLS = [
    ORT_SPIN_CELLS[0]
    .replace("_SpinningSession", "_OneThreadSession")
    .replace(
        'sess_options.add_session_config_entry("session.intra_op.allow_spinning", "1")',
        "sess_options.intra_op_num_threads = 1",
    ),
    *WIDGET_CELLS,
]

#: Defines ``_segw_ort_threads()`` in the kernel: the serving engine's ONNX Runtime thread
#: settings (spinning is ORT's default when the option is unset).
ORT_SETTINGS_CODE = """def _segw_ort_threads():
    so = w.engine._run.session.get_session_options()
    try:
        spin = so.get_session_config_entry("session.intra_op.allow_spinning")
    except Exception:
        spin = "unset (ORT default: 1)"
    return {"intra_op_num_threads": so.intra_op_num_threads, "allow_spinning": spin}
"""

# Records, in the page, every src the baseline's <img> gets and every image it loads.
JS_IMAGE_WATCH = r"""() => {
  const img = document.querySelector(".widget-image");
  const now = () => performance.timeOrigin + performance.now();
  const rec = (window.__swimg = { changes: [], loads: [] });
  const mo = new MutationObserver((records) => {
    // each record holds the value before its change: the new values are the next record's
    // old value and, for the last one, the current src
    const t = now();
    records.forEach((r, i) => {
      const src = i + 1 < records.length ? records[i + 1].oldValue : img.getAttribute("src");
      rec.changes.push({ src, t });
    });
  });
  mo.observe(img, { attributes: true, attributeFilter: ["src"], attributeOldValue: true });
  // painted in the next animation frame after it loaded: the moment comparable to the
  // widget's draw, which happens in an animation frame too
  img.addEventListener("load", () => {
    const src = img.getAttribute("src");
    const t_load = now();
    requestAnimationFrame(() => rec.loads.push({ src, t_load, t: now() }));
  });
  return true;
}"""
JS_IMAGE_TAKE = "() => window.__swimg"


def log(msg: str) -> None:
    print(f"[bench e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
