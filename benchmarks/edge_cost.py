"""What drawing one result costs the browser, per render path, in headless Chromium.

    python benchmarks/edge_cost.py                  # fast (random weights) and person
    python benchmarks/edge_cost.py --results 300 --json out.json

Real masks (the engine on scikit-image's photos) go through the view's own per-result work:
``ViewEffects.onResult`` (smoothing, steadying), then one draw in each path: the overlay layer
(``LayerRenderer``, the live view), the compositor path over a held frame (``OverlayRenderer``,
the aligned display far from the kernel) and the per-pixel canvas (``CanvasRenderer``, blend).
A one-pixel read after each draw makes Chromium rasterise it, so the figure includes the
scaling. Milliseconds per result, the median of three rounds; the script bundles this
checkout's ``js/src``, so running it in two checkouts compares two versions on one machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENTRY = """
export { LayerRenderer } from "./js/src/layer-renderer.js";
export { OverlayRenderer } from "./js/src/overlay-renderer.js";
export { CanvasRenderer } from "./js/src/canvas.js";
export { ViewEffects } from "./js/src/view-effects.js";
export { buildLut, vocPalette } from "./js/src/palette.js";
"""


RUN = """async ([masks, labels, n]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const lut = SW.buildLut(SW.vocPalette(), null);
  const store = { v: { viz_mode: "filled", smoothing: 0.5, background: null, mirror: null },
    get(k) { return this.v[k]; }, on() { return () => {}; } };
  const grey = new Uint8ClampedArray(640 * 480 * 4).map((_, i) => (i * 31) & 255);
  const frame = await createImageBitmap(new ImageData(grey, 640, 480));
  const planes = masks.map((m) => ({ mask: bytes(m.mask), conf: m.conf ? bytes(m.conf) : null,
    width: m.w, height: m.h }));
  const paths = {
    layer: [(c) => new SW.LayerRenderer(c), (r, mask, s) => r.draw(640, 480, mask, s), "filled"],
    aligned: [(c) => new SW.OverlayRenderer(c), (r, mask, s) => r.draw(frame, 640, 480, mask, s),
      "filled"],
    canvas: [(c) => new SW.CanvasRenderer(c), (r, mask, s) => r.draw(frame, 640, 480, mask, s),
      "blend"],
  };
  const out = {};
  for (const [name, [make, draw, mode]] of Object.entries(paths)) {
    store.v.viz_mode = mode;
    const rounds = [];
    for (let round = 0; round < 4; round++) {
      const canvas = document.createElement("canvas");
      document.body.append(canvas);
      const renderer = make(canvas);
      const effects = new SW.ViewEffects(store, () => {});
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const p = planes[i % planes.length];
        const mask = { data: p.mask.slice(), width: p.width, height: p.height };
        const alphas = effects.onResult(mask, p.conf && p.conf.slice(), labels);
        draw(renderer, mask, { mode, opacity: 0.5, lut, ...effects.drawSettings(alphas, false) });
        canvas.getContext("2d").getImageData(0, 0, 1, 1);
      }
      if (round) rounds.push((performance.now() - t0) / n); // the first round warms up
      canvas.remove();
    }
    rounds.sort((a, b) => a - b);
    out[name] = +rounds[1].toFixed(3);
  }
  return out;
}"""


def masks(profile: str) -> tuple[list[dict], list[str]]:
    """The profile's masks (and confidences) of the three sample photos at 640x480."""
    import cv2
    import numpy as np

    from segwidget.bench.harness.video import sample_photos
    from segwidget.engine import Engine

    engine = Engine(profile, "random") if profile != "person" else Engine(profile)
    out, labels = [], list(engine.labels)
    for photo in sample_photos().values():
        res = engine.segment(cv2.resize(photo[..., :3], (640, 480)))
        m = {"w": res.mask.shape[1], "h": res.mask.shape[0]}
        m["mask"] = base64.b64encode(np.ascontiguousarray(res.mask, np.uint8)).decode()
        if res.confidence is not None:
            m["conf"] = base64.b64encode(np.ascontiguousarray(res.confidence)).decode()
        out.append(m)
    return out, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["fast", "person"])
    parser.add_argument("--results", type=int, default=200, help="per round")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    from segwidget.bench.harness.browser import bundle_sources
    from segwidget.bench.harness.util import chromium_path

    bundle, chromium = bundle_sources(ENTRY, ROOT), chromium_path()
    if bundle is None or not chromium:
        print("edge_cost: needs node, npm ci and Chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    figures = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(content=bundle)
            for profile in args.profiles:
                planes, labels = masks(profile)
                figures[profile] = page.evaluate(RUN, [planes, labels, args.results])
                cells = ", ".join(f"{k} {v} ms" for k, v in figures[profile].items())
                print(f"{profile}: per result: {cells}")
        finally:
            browser.close()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
