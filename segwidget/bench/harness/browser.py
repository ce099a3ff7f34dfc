"""Headless Chromium with a fake camera, driven by Playwright; reading canvases losslessly.

The system Chromium (Debian's ``/usr/bin/chromium``, or ``$SEGWIDGET_CHROMIUM``) is driven
through Playwright's ``executable_path``: never ``playwright install``.
"""

from __future__ import annotations

import base64
import io
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


def decode_data_url(url: str) -> np.ndarray:
    """RGBA pixels of a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    head, _, data = url.partition(",")
    if not head.startswith("data:image/png;base64"):
        raise ValueError(f"not a PNG data URL: {head[:40]!r}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


# Reads a canvas's backing store losslessly, whatever its context type: copy it into a fresh
# 2d canvas and export PNG.
JS_CANVAS_PNG = """(canvas) => {
  const c = document.createElement('canvas');
  c.width = canvas.width; c.height = canvas.height;
  c.getContext('2d').drawImage(canvas, 0, 0);
  return c.toDataURL('image/png');
}"""


def read_canvas(locator) -> np.ndarray:
    """RGBA pixels of the canvas a Playwright locator points at."""
    return decode_data_url(locator.evaluate(JS_CANVAS_PNG))


def palette_fraction(rgba: np.ndarray, palette: Iterable[Iterable[int]]) -> float:
    """Fraction of pixels whose RGB is exactly one of ``palette``'s colours."""
    rgb = rgba[..., :3].reshape(-1, 3).astype(np.int32)
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    pal = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], dtype=np.int32)
    return float(np.isin(codes, pal).mean())


def colour_fraction(rgba: np.ndarray, colour: Iterable[int]) -> float:
    return float(np.all(rgba[..., :3] == np.asarray(list(colour))[None, None], axis=-1).mean())
