"""SegWidget-specific helpers: the test notebook, driving the widget, checking its pixels.

Pixel checks work on the canvas the view draws (``canvas.sw-canvas``) and on the Y4M frames
the fake camera plays. The view composites the *current* video frame with the newest mask,
so a check first finds which source frame the canvas shows (the one that best explains its
pixels) and then applies the renderer's rules (js/src/renderer.js) per pixel.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fixtures import FakeVideo, WidgetHost, read_canvas, wait_until

WIDGET_SELECTOR = ".segwidget canvas.sw-canvas"

# The notebook every host runs. `w` is the name the probe uses.
WIDGET_CELLS = [
    "from segwidget import SegWidget\n\nw = SegWidget(weights='random')\nw",
]


def voc_palette() -> list[list[int]]:
    from segwidget.labels import resolve_palette

    return resolve_palette("voc", 21).tolist()


# --------------------------------------------------------------------------------------------
# Pixel analysis
# --------------------------------------------------------------------------------------------


@dataclass
class Explained:
    """How well a canvas is explained by one source frame and the renderer's rules."""

    frame: int  # index of the best-explaining source frame
    video: float  # fraction of sampled pixels equal to the video (within tol)
    overlay: float  # fraction equal to the composite of the video with one allowed colour
    either: float  # fraction explained by one or the other

    def __str__(self) -> str:
        return (
            f"frame {self.frame}: video {self.video:.3f}, overlay {self.overlay:.3f}, "
            f"explained {self.either:.3f}"
        )


def composite(video: np.ndarray, colours: np.ndarray, opacity: float, mode: str) -> np.ndarray:
    """The renderer's per-pixel rule for ``video`` (..., 3) with each of ``colours`` (k, 3).

    Returns (k, ..., 3) float64: ``filled`` (also contour boundaries) and ``blend`` (HSV).
    """
    v = video.astype(np.float64)[None]
    c = colours.astype(np.float64).reshape((-1,) + (1,) * (video.ndim - 1) + (3,))
    a = opacity
    if mode == "filled":
        return np.floor(v * (1 - a) + c * a + 0.5)
    if mode == "blend":
        value = v.max(axis=-1, keepdims=True)
        cmax = c.max(axis=-1, keepdims=True)
        t = np.where(cmax > 0, c * value / np.maximum(cmax, 1e-9), value)
        m = v * (1 - a) + t * a
        big = m.max(axis=-1, keepdims=True)
        return np.where(big > 0, np.floor(m * value / np.maximum(big, 1e-9) + 0.5), 0)
    raise ValueError(mode)


def _explain_frames(
    rgb: np.ndarray,
    refs: np.ndarray,
    frames: np.ndarray,
    step: int,
    opacity: float,
    pal: np.ndarray,
    mode: str,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate frame: (is_video, is_overlay) boolean maps on a ``step`` grid."""
    h, w = rgb.shape[:2]
    ys = np.arange(step // 2, h, step)
    xs = np.arange(step // 2, w, step)
    c = rgb[np.ix_(ys, xs)].astype(np.float64)  # (sy, sx, 3)
    v = refs[frames][:, ys][:, :, xs].astype(np.float64)  # (n, sy, sx, 3)
    is_video = np.abs(c[None] - v).max(axis=-1) <= tol  # (n, sy, sx)
    is_overlay = np.zeros_like(is_video)
    for colour in pal:
        expect = composite(v, colour[None], opacity, mode)[0]  # (n, sy, sx, 3)
        is_overlay |= np.abs(expect - c[None]).max(axis=-1) <= tol
    return is_video, is_overlay


def explain(
    canvas: np.ndarray,
    video: FakeVideo,
    *,
    opacity: float,
    colours: Iterable[Sequence[int]],
    mode: str = "filled",
    tol: float = 4.0,
    step: int = 6,
) -> Explained:
    """Which fraction of the canvas is plain video, and which the composite with ``colours``.

    Pixels are point-sampled on a ``step`` grid (the rules hold per pixel, so no resampling
    blurs them). Every source frame is tried on a coarse grid, the best few on the fine one;
    the frame explaining most pixels wins. ``tol`` absorbs the video's own noise (YUV
    decoding differences between Chromium and :func:`i420_to_rgb`).
    """
    rgb = canvas[..., :3]
    h, w = rgb.shape[:2]
    refs = video.frames if (w, h) == (video.width, video.height) else video.scaled(w, h)
    refs = np.asarray(refs)
    pal = np.asarray(list(colours), dtype=np.float64).reshape(-1, 3)
    args = (opacity, pal, mode, tol)
    coarse_v, coarse_o = _explain_frames(rgb, refs, np.arange(len(refs)), step * 4, *args)
    score = (coarse_v | coarse_o).mean(axis=(1, 2)) + 1e-3 * coarse_v.mean(axis=(1, 2))
    candidates = np.argsort(-score, kind="stable")[:6]
    is_video, is_overlay = _explain_frames(rgb, refs, candidates, step, *args)
    either = (is_video | is_overlay).mean(axis=(1, 2))
    best = int(np.argmax(either + 1e-3 * is_video.mean(axis=(1, 2))))
    return Explained(
        int(candidates[best]),
        float(is_video[best].mean()),
        float(is_overlay[best].mean()),
        float(either[best]),
    )


# --------------------------------------------------------------------------------------------
# The widget in a host
# --------------------------------------------------------------------------------------------


class SegWidgetPage:
    """A running ``SegWidget`` as seen from both sides: the page's canvas and the kernel."""

    def __init__(self, host: WidgetHost, video: FakeVideo):
        self.host = host
        self.video = video
        self.probe = host.probe

    # -- kernel side -------------------------------------------------------------------------
    def set(self, **traits: Any) -> None:
        """Set traits from Python, as a user would in another cell."""
        code = "\n".join(f"w.{k} = {v!r}" for k, v in traits.items())
        self.probe.execute(code)

    def get(self, name: str) -> Any:
        return self.probe.eval(f"w.{name}")

    def stats(self) -> dict[str, Any]:
        return self.probe.eval("dict(w.stats)")

    def frames_processed(self) -> int:
        return int(self.probe.eval("w.stats.get('frames_processed', 0)"))

    def wait_frames(self, more_than: int, timeout: float = 60) -> int:
        """Wait until ``stats['frames_processed'] > more_than``; return the new count."""
        return int(
            self.probe.wait_for(
                f"(w.stats.get('frames_processed', 0) > {int(more_than)}) and "
                "w.stats['frames_processed']",
                timeout,
                f"stats['frames_processed'] > {more_than}{self._why()}",
            )
        )

    def _why(self) -> str:
        try:
            err = self.probe.eval("w.error")
        except Exception as exc:
            err = repr(exc)
        return f" (w.error: {err})"

    def latest(self) -> dict[str, Any]:
        """``w.latest()`` as plain data: frame and mask as numpy arrays, classes, profile."""
        data = self.probe.eval(
            "(lambda r: None if r is None else {"
            "'frame': __import__('base64').b64encode(__import__('numpy')"
            ".ascontiguousarray(r.frame).tobytes()).decode(), 'shape': list(r.frame.shape),"
            "'dtype': str(r.frame.dtype), 'mask_shape': list(r.mask.shape),"
            "'classes': r.classes, 'profile': r.profile, 'seq': r.seq})(w.latest())"
        )
        if data is None:
            return None
        data["frame"] = np.frombuffer(base64.b64decode(data["frame"]), dtype=data["dtype"]).reshape(
            data["shape"]
        )
        return data

    def steady_stats(self, samples: int = 5, timeout: float = 60) -> dict[str, float]:
        """Medians of fps / latency_ms / inference_ms over ``samples`` distinct stats updates."""
        seen: list[dict[str, Any]] = []

        def collect() -> bool:
            s = self.stats()
            if s and (not seen or s.get("frames_processed") != seen[-1].get("frames_processed")):
                seen.append(s)
            return len(seen) >= samples

        wait_until(collect, timeout, f"{samples} stats updates", interval=0.25)
        out: dict[str, float] = {}
        for key in ("fps", "latency_ms", "inference_ms"):
            values = [float(s[key]) for s in seen if s.get(key) is not None]
            if values:
                out[key] = round(statistics.median(values), 2)
        out["samples"] = len(seen)
        out["frames_processed"] = seen[-1].get("frames_processed")
        return out

    # -- page side ---------------------------------------------------------------------------
    def canvas(self) -> np.ndarray:
        return read_canvas(self.host.widget)

    def wait_canvas(self, check, timeout: float = 20, what: str = "the canvas") -> Any:
        """Poll the canvas until ``check(rgba)`` returns ``(True, info)``; return ``info``.

        A trait change travels kernel -> browser asynchronously and the view redraws on the
        next video frame; each poll reads the canvas as it is now. On timeout the error
        shows the last ``info``.
        """
        last: list[Any] = [None]

        def attempt() -> Any:
            ok, info = check(self.canvas())
            last[0] = info
            return (info,) if ok else None

        return wait_until(
            attempt,
            timeout,
            what,
            interval=0.2,
            on_timeout=lambda: f"; last check: {last[0]}{self.host.diagnostics(15)}",
        )[0]


# --------------------------------------------------------------------------------------------
# Checks shared by the hosts
# --------------------------------------------------------------------------------------------


def check_frames_flow(sw: SegWidgetPage, more: int = 10) -> dict[str, Any]:
    """Frames keep arriving in Python (``stats['frames_processed']`` grows) from the camera."""
    n0 = sw.frames_processed()
    n1 = sw.wait_frames(n0 + more, timeout=90)
    assert n1 > n0 + more
    stats = sw.stats()
    assert stats["profile"] == "fast", stats
    assert stats["backend"], stats
    assert sw.get("error") is None
    # The view draws the webcam at its own size.
    img = sw.canvas()
    assert img.shape[:2] == (sw.video.height, sw.video.width), img.shape
    return stats


def check_opacity(sw: SegWidgetPage) -> dict[float, Explained]:
    """``opacity`` set from Python changes the drawn pixels exactly as the renderer's rule."""
    pal = voc_palette()
    seen: dict[float, Explained] = {}
    sw.set(viz_mode="filled", class_filter=[], opacity=1.0)

    # Opaque: every pixel is a class colour.
    def opaque(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=1.0, colours=pal)
        return e.overlay > 0.97, e

    seen[1.0] = sw.wait_canvas(opaque, what="opacity 1.0: only class colours")

    # Transparent: the plain video.
    sw.set(opacity=0.0)

    def clear(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=0.0, colours=[])
        return e.video > 0.97, e

    seen[0.0] = sw.wait_canvas(clear, what="opacity 0.0: the plain video")

    # Half: round(v / 2 + c / 2) for a class colour c, which is not the video.
    sw.set(opacity=0.5)

    def half(img: np.ndarray) -> tuple[bool, Explained]:
        e = explain(img, sw.video, opacity=0.5, colours=pal)
        return e.overlay > 0.95 and e.video < 0.5, e

    seen[0.5] = sw.wait_canvas(half, what="opacity 0.5: video and class colour, half each")
    return seen
