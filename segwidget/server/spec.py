"""The spec's JSON protocol: its replies (``connected``, ``segmentation``, ``stats``), the
visualization settings a client sets (:class:`Viz`) and the composite PNGs, rendered on a
shared thread pool. The binary protocol needs none of this (the browser draws the mask)."""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..effects import DEFAULT_BACKGROUND, parse_background, person_index
from ..engine import LABELS, Engine, SegResult
from ..errors import ProtocolError
from ..labels import COLORMAPS, PALETTES, resolve_palette
from ..profiles import PROFILES
from ..render import VIZ_MODES, colorized_png, encode_png, render_overlay
from ..stream import Frame, Session
from ..transports import ready_message
from ..transports.messages import VizSettings

PNG_OUTPUTS = ("composite", "mask")


def decode_base64(data: str) -> bytes:
    """A frame's base64 ``data`` (or a ``data:`` URL) as bytes; ProtocolError(BAD_BASE64)."""
    if data.startswith("data:"):  # canvas.toDataURL() output: data:image/jpeg;base64,....
        head, sep, data = data.partition(",")
        if not sep or not head.endswith(";base64"):
            raise ProtocolError("BAD_BASE64", "frame 'data' is a data URL without ;base64")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("BAD_BASE64", "frame 'data' is not valid base64") from None
    if not raw:
        raise ProtocolError("BAD_BASE64", "frame 'data' is empty")
    return raw


_render_pool: ThreadPoolExecutor | None = None
_render_pool_lock = threading.Lock()


def render_pool() -> ThreadPoolExecutor:
    """Threads that render and encode the spec protocol's PNGs (OpenCV and numpy release
    the GIL for most of it), shared by every connection."""
    global _render_pool
    with _render_pool_lock:
        if _render_pool is None:
            workers = max(2, min(8, os.cpu_count() or 2))
            _render_pool = ThreadPoolExecutor(workers, thread_name_prefix="segwidget-render")
        return _render_pool


_gpu_cache: dict[str, Any] = {"t": 0.0, "mb": None}


def gpu_memory_mb(device: str | None) -> float | None:
    """Memory in use on the CUDA device (all processes), refreshed at most once a second."""
    if device != "cuda":
        return None
    now = time.monotonic()
    if now - _gpu_cache["t"] < 1.0:
        return _gpu_cache["mb"]
    try:
        import torch

        free, total = torch.cuda.mem_get_info()
        mb: float | None = round((total - free) / 2**20, 1)
    except Exception:
        mb = None
    _gpu_cache.update(t=now, mb=mb)
    return mb


def connected_message(engine: Engine) -> dict[str, Any]:
    """The spec's ``connected``: ``ready``'s fields plus the spec's own.

    ``default_colormap`` is, as in the spec, an object: class name -> ``[r, g, b]`` of the
    profile's default palette; ``colormap`` names that palette.
    """
    ready = ready_message(engine)
    name = engine.profile.default_colormap
    palette = resolve_palette(name, len(engine.labels))
    return {
        **ready,
        "type": "connected",
        "status": "ready",
        "available_models": list(PROFILES),
        "class_labels": list(engine.labels),
        "colormap": name,
        "default_colormap": {label: palette[i].tolist() for i, label in enumerate(engine.labels)},
    }


@dataclass(frozen=True)
class Viz:
    """One connection's visualization settings (replaced whole, read by the worker)."""

    opacity: float = 0.6
    mode: str = "filled"
    class_filter: tuple[str, ...] = ()  # empty: every class
    colormap: str | None = None  # None: the profile's default
    custom: tuple[tuple[int, int, int], ...] = ()
    background: str = DEFAULT_BACKGROUND  # replace's colour
    mirror: bool = False

    def palette(self, engine_default: str, n: int) -> Any:
        if self.colormap == "custom" and self.custom:
            return resolve_palette("custom", n, self.custom)
        if self.colormap in PALETTES:
            return resolve_palette(self.colormap, n)
        return resolve_palette(engine_default, n)

    def filter_ids(self, labels: list[str]) -> list[int] | None:
        """Class ids to show, or None for all. Names the current profile lacks are ignored;
        when none is left, every class shows (as after a profile switch in the page)."""
        if not self.class_filter:
            return None
        index = {name: i for i, name in enumerate(labels)}
        ids = [index[n] for n in self.class_filter if n in index]
        return ids or None


_ALL_LABELS = frozenset(name for labels in LABELS.values() for name in labels)


def apply_viz(viz: Viz, settings: VizSettings, labels: list[str] | None) -> Viz:
    """``viz`` updated with the fields ``settings`` sets; ProtocolError(UNKNOWN_MODE) on a bad
    name. ``labels``: the serving profile's class names, if any."""
    given = settings.model_fields_set
    changes: dict[str, Any] = {}
    if "overlay_opacity" in given and settings.overlay_opacity is not None:
        changes["opacity"] = float(settings.overlay_opacity)
    if "visualization_mode" in given and settings.visualization_mode is not None:
        if settings.visualization_mode not in VIZ_MODES:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown visualization_mode {settings.visualization_mode!r}; "
                f"expected one of {', '.join(VIZ_MODES)}",
            )
        changes["mode"] = settings.visualization_mode
    if "colormap" in given:
        if settings.colormap is not None and settings.colormap not in COLORMAPS:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown colormap {settings.colormap!r}; expected one of {', '.join(COLORMAPS)}",
            )
        changes["colormap"] = settings.colormap
    if "custom_colormap" in given:
        changes["custom"] = tuple(tuple(c) for c in settings.custom_colormap or ())
    if "class_filter" in given:
        # Names of any profile's label set are accepted (a filter may race a profile switch);
        # names the serving profile lacks are ignored when rendering (Viz.filter_ids).
        names = settings.class_filter or []
        known = _ALL_LABELS if labels is None else _ALL_LABELS | set(labels)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ProtocolError(
                "UNKNOWN_MODE",
                f"unknown class name(s) in class_filter: {', '.join(map(repr, unknown[:5]))}",
            )
        changes["class_filter"] = tuple(dict.fromkeys(names))
    if "background" in given and settings.background is not None:
        changes["background"] = _background_colour(settings.background)
    if "mirror" in given and settings.mirror is not None:
        changes["mirror"] = settings.mirror
    return replace(viz, **changes)


def _background_colour(value: str | list[int]) -> str:
    """A client's background colour as ``"#rrggbb"`` (never a path: BAD_MESSAGE)."""
    if isinstance(value, str) and not value.startswith("#"):
        raise ProtocolError(
            "BAD_MESSAGE", f"background must be '#rrggbb' or [r, g, b], got {value!r}"
        )
    try:
        return str(parse_background(tuple(value) if isinstance(value, list) else value))
    except ValueError as exc:
        raise ProtocolError("BAD_MESSAGE", str(exc)) from None


def segmentation_message(
    viz: Viz, png_output: str, session: Session, frame: Frame, result: SegResult
) -> dict[str, Any]:
    """The spec's ``segmentation`` reply: the composite (or colorized mask) PNG, base64, and
    its metadata. Runs on the render pool; fills ``result.timings["encode"]``."""
    t0 = time.perf_counter()
    labels = result.labels
    engine = session.engine
    default = engine.profile.default_colormap if engine else "voc"
    palette = viz.palette(default, len(labels))
    ids = viz.filter_ids(labels)
    if png_output == "mask":
        png = colorized_png(result.mask, palette, ids)
        h, w = result.mask.shape
    else:
        # the effects without temporal smoothing: each PNG stands alone
        effects = {"confidence": getattr(result, "confidence", None), "mirror": viz.mirror}
        image = render_overlay(
            session.pixels(frame, result), result.mask, palette, viz.mode, viz.opacity, ids,
            person=person_index(labels), background=viz.background, **effects,
        )  # fmt: skip
        png = encode_png(image)
        h, w = image.shape[:2]
    result.timings["encode"] = (time.perf_counter() - t0) * 1000
    timings = {k: round(v, 3) for k, v in result.timings.items()}
    return {
        "type": "segmentation",
        "timestamp": frame.t_capture,
        "data": base64.b64encode(png).decode("ascii"),
        "metadata": {
            "inference_time_ms": round(result.timings.get("inference", 0.0), 2),
            "model_mode": result.profile,
            "detected_classes": [labels[i] for i, _ in result.class_ids],
            "fps": session.stats.snapshot()["fps"],
            "seq": frame.seq,
            "width": w,
            "height": h,
            "output": png_output,
            "visualization_mode": viz.mode if png_output == "composite" else None,
            "classes": [[labels[i], round(f, 5)] for i, f in result.class_ids],
            "timings": timings,
            "server_ms": round(sum(result.timings.values()), 3),
        },
    }


def stats_message(stats: dict[str, Any], results_dropped: int) -> dict[str, Any]:
    """The spec's ``stats``: its own fields, and the session's figures under ``stats``."""
    gpu = gpu_memory_mb(stats.get("device"))
    stats = {**stats, "gpu_memory_mb": gpu, "results_dropped": results_dropped}
    return {
        "type": "stats",
        "fps": stats["fps"],
        "avg_inference_ms": stats["inference_ms"],
        "gpu_memory_mb": gpu,
        "queue_size": stats["queue_size"],
        "stats": stats,
    }
