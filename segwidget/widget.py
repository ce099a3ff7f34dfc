"""``SegWidget``: live webcam segmentation in a notebook cell (an anywidget).

The view (``segwidget/static/widget.js``, built from ``js/``) captures the webcam, sends JPEG
frames as custom messages and renders the class-index masks it gets back; settings are synced
traits, applied in the browser without a round trip. The kernel side is
:class:`~segwidget.transports.comm.CommTransport` over a :class:`~segwidget.stream.Session`,
whose worker thread keeps the kernel free. See ``docs/API_REFERENCE.md``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import cv2
import numpy as np
import traitlets as t

from .capture_settings import CaptureSettings
from .cluster.connect import cluster_from_env
from .effects import DEFAULT_SMOOTHING, EFFECT_MODES, ViewSmoothing
from .engine import LABELS, Engine, SegResult
from .errors import LOAD_ERRORS, StreamFailedError
from .full_size import FullSizeFrames
from .kernel_status import quiet_comm, unquiet_comm
from .labels import COLORMAPS, resolve_palette, validate_class_filter
from .profiles import PROFILES
from .render import VIZ_MODES
from .results import Recording, RecordingResult, Result, ResultHub
from .scheduler import default_scheduler
from .sources import FrameSource, SourceRunner, make_source
from .stream import Frame, Session
from .traits import BACKGROUND_SERIALIZERS, Background, Smoothing
from .transports.comm import CommTransport

log = logging.getLogger(__name__)

SOURCE_KINDS = ("browser", "kernel")
#: Traits Python sets and the view only reads; view updates to them are ignored.
READ_ONLY = ("labels", "detected", "stats", "error")
DETECTED_PERIOD_S = 0.25
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

_STATIC = Path(__file__).parent / "static"
_MISSING_BUNDLE = """export default { render({ el }) {
  el.textContent = "segwidget: the front-end bundle segwidget/static/widget.js is missing; " +
    "build it with `npm ci && npm run build` in js/.";
} };"""


def _asset(name: str, fallback: str) -> str:
    # Text, not a Path: for a Path anywidget connects each instance to the file's change
    # signal with a strong reference, so no widget was ever freed after close() (found by
    # tests/test_faults_widget.py); the cost is anywidget's hot reload while developing.
    path = _STATIC / name
    return path.read_text(encoding="utf-8") if path.is_file() else fallback


def _labels_for(profile: str) -> list[str]:
    return list(LABELS[PROFILES[profile].dataset])


class SegWidget(CaptureSettings, anywidget.AnyWidget):
    """Live semantic segmentation of the webcam (or a kernel-side source) in a notebook.

    ``SegWidget(profile="fast", weights="pretrained", backend="auto", source="browser",
    **settings)``. ``source`` may also be a camera index, a video path or URL, or an
    iterable of RGB frames; the kernel then reads the frames. ``settings`` are any of the
    synced traits below (``viz_mode="contour"``, ``opacity=0.4``, ...). ``cluster="HOST:6379"``
    (default ``$SEGWIDGET_CLUSTER``) runs the model on a Ray Serve cluster instead of in the
    kernel (``segwidget cluster deploy``; docs/SCALING.md).

    The browser's capture loop has advanced settings too (:class:`CaptureSettings`:
    ``max_in_flight``, ``upload_size``, ``frame_encoding``, ``adapt``, ``latency_budget_ms``).

    Effects (``viz_mode`` ``"blur"``, ``"replace"``, ``"confidence"``) follow the ``person``
    class; ``background``, ``smoothing`` and ``mirror`` (None: auto) tune them, see
    :mod:`segwidget.traits`. Mirroring is for display: ``latest().frame`` never is.
    """

    _esm = _asset("widget.js", _MISSING_BUNDLE)
    _css = _asset("widget.css", "")

    profile = t.Enum(tuple(PROFILES), default_value="fast").tag(sync=True)
    viz_mode = t.Enum(VIZ_MODES, default_value="filled").tag(sync=True)
    opacity = t.Float(0.6).tag(sync=True)
    class_filter = t.List(t.Unicode()).tag(sync=True)
    colormap = t.Enum(COLORMAPS, default_value="voc").tag(sync=True)
    custom_palette = t.List().tag(sync=True)
    show_fps = t.Bool(True).tag(sync=True)
    show_legend = t.Bool(True).tag(sync=True)
    background = Background().tag(sync=True, **BACKGROUND_SERIALIZERS)
    smoothing = Smoothing(DEFAULT_SMOOTHING).tag(sync=True)
    mirror = t.Bool(None, allow_none=True).tag(sync=True)
    running = t.Bool(True).tag(sync=True)
    source_kind = t.Enum(SOURCE_KINDS, default_value="browser").tag(sync=True)
    labels = t.List(t.Unicode(), read_only=True).tag(sync=True)
    detected = t.List(read_only=True).tag(sync=True)
    stats = t.Dict(read_only=True).tag(sync=True)
    error = t.Dict(default_value=None, allow_none=True, read_only=True).tag(sync=True)

    # Class-level defaults: close() (also run by ipywidgets' __del__) must work on a widget
    # whose __init__ raised part-way.
    _session: Session | None = None
    _transport: CommTransport | None = None
    _source: FrameSource | None = None
    _runner: SourceRunner | None = None

    def __init__(
        self,
        profile: str = "fast",
        weights: str | os.PathLike = "pretrained",
        backend: str = "auto",
        source: Any = "browser",
        *,
        device: str = "auto",
        input_size: int | None = None,
        cluster: str | None = None,
        **settings: Any,
    ):
        if profile not in PROFILES:
            raise t.TraitError(
                f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}"
            )
        settable = set(self.class_trait_names(sync=True)) - set(READ_ONLY)
        read_only = [k for k in settings if k in READ_ONLY]
        if read_only:
            raise TypeError(f"{', '.join(read_only)}: read-only, set by the widget itself")
        unknown = [k for k in settings if k not in settable or k.startswith("_")]
        if unknown:
            valid = sorted(k for k in settable if not k.startswith("_"))
            raise TypeError(f"unknown setting(s) {unknown}; valid settings: {', '.join(valid)}")
        self._source: FrameSource | None = make_source(source)
        settings.setdefault("colormap", PROFILES[profile].default_colormap)
        kind = "kernel" if self._source is not None else "browser"
        super().__init__(profile=profile, source_kind=kind, **settings)

        self._hub = ResultHub(self._failed)
        self._full = FullSizeFrames(self._hub, self, lambda: self._session)
        self._runner: SourceRunner | None = None
        self._error_from_client = False
        self._reverting = False
        self._detected_at = 0.0
        self._served_profile: str | None = None
        self._smoother = ViewSmoothing(self.smoothing)
        self.set_trait("labels", _labels_for(profile))

        engine_kwargs: dict[str, Any] = {"weights": weights}
        if backend != "auto":
            engine_kwargs["backend"] = backend
        if device != "auto":
            engine_kwargs["device"] = device
        if input_size is not None:
            engine_kwargs["input_size"] = input_size
        cluster = cluster_from_env(cluster)  # a Ray Serve model tier (docs/SCALING.md)
        if cluster:
            engine_kwargs["cluster"] = cluster
        self._transport = CommTransport(_Hooks(self))
        self._session = Session(
            self._transport,
            default_scheduler(),
            profile=profile,
            engine_kwargs=engine_kwargs,
            name=f"widget-{self.model_id[:8]}",
            latency_budget_ms=self.latency_budget_ms,
            adapt=self.adapt,
        )
        # the kernel's own effect composites (Result.composite(), the smoother) use it too
        self._session.confidence_needed = lambda: self.viz_mode in EFFECT_MODES
        self._transport.session = self._session
        self.on_msg(self._on_custom_message)
        # Frames arrive as comm messages: no busy/idle status flicker for each one (see
        # segwidget/kernel_status.py; it costs JupyterLab a third of its CPU while streaming).
        self._quiet_status = quiet_comm(self.model_id)
        self._session.start()
        if self._source is not None and self.running:
            self._start_source()

    # -- validation -------------------------------------------------------------------------
    @t.validate("opacity")
    def _check_opacity(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise t.TraitError(f"opacity must be between 0.0 and 1.0, got {value!r}")
        return value

    @t.validate("class_filter")
    def _check_filter(self, proposal: Any) -> list[str]:
        try:
            return validate_class_filter(proposal["value"], _labels_for(self.profile))
        except ValueError as exc:
            raise t.TraitError(f"class_filter: {exc}") from None

    @t.validate("custom_palette")
    def _check_palette(self, proposal: Any) -> list[list[int]]:
        value = proposal["value"]
        if not value:
            if self.colormap == "custom":
                raise t.TraitError("custom_palette cannot be empty while colormap is 'custom'")
            return []
        try:
            return resolve_palette("custom", len(value), value).tolist()
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None

    @t.validate("colormap")
    def _check_colormap(self, proposal: Any) -> str:
        if proposal["value"] == "custom" and not self.custom_palette:
            raise t.TraitError(
                "colormap 'custom' needs custom_palette, a list of [r, g, b] colours: set it first"
            )
        return proposal["value"]

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """State from the view; the read-only traits are Python's and are not taken."""
        super().set_state({k: v for k, v in sync_data.items() if k not in READ_ONLY})

    # -- observers --------------------------------------------------------------------------
    @t.validate("profile")
    def _check_profile(self, proposal: Any) -> str:
        # Asking again for the profile that serves (the failed switch already went back to
        # it) is no change to observe, but the failed switch's error no longer applies.
        if proposal["value"] == self.profile and not getattr(self, "_reverting", True):
            self._clear_load_error()
        return proposal["value"]

    @t.observe("profile")
    def _profile_changed(self, change: Any) -> None:
        if self._session is not None and not self._reverting:
            self._clear_load_error()  # a new attempt: it reports again if it fails
            self._session.switch(change["new"])

    @t.observe("adapt", "latency_budget_ms")
    def _adapt_changed(self, change: Any) -> None:
        if self._session is not None:
            self._session.configure_adapt(self.latency_budget_ms, self.adapt)

    @t.observe("running")
    def _running_changed(self, change: Any) -> None:
        if self._session is None or self._source is None:
            return
        if change["new"]:
            self._start_source()
        else:
            self._stop_source(wait=False)

    # -- Python API -------------------------------------------------------------------------
    @property
    def engine(self) -> Engine | None:
        """The engine serving now (None until the first profile has loaded)."""
        return self._session.engine if self._session else None

    def latest(self, timeout: float | None = None) -> Result | None:
        """The newest result, or None. With ``timeout``, wait that long for a first one.

        Raises :class:`~segwidget.errors.StreamFailedError` (the code and message of
        ``error``) when the stream cannot produce results, e.g. its model failed to load.
        """
        return self._hub.latest(timeout)

    def wait_for_result(self, after: int = 0, timeout: float = 30.0) -> Result:
        """Block until more than ``after`` results have arrived; return the newest."""
        return self._hub.wait_for(after, timeout)

    @property
    def results_count(self) -> int:
        """How many results this widget has received."""
        return self._hub.count

    def snapshot(self, path: str | os.PathLike = "snapshot.png", timeout: float = 5.0) -> Path:
        """Save the newest composite (what the view shows) as an image; return its path.

        From the browser's camera it is at the camera's resolution: the view sends full-size
        frames until one is segmented (``upload_size="full"`` meanwhile), the mask scaled to
        it. In a notebook cell that frame comes once the cell ends: the file is written then.
        """
        path = Path(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.parent.is_dir():
            raise ValueError(f"cannot write {path}: use an existing folder and .png or .jpg")

        def save(result: Result) -> None:
            bgr = cv2.cvtColor(result.overlay(), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(path), bgr):
                raise ValueError(f"could not write {path}")

        self._full.snapshot(timeout, save)
        return path

    def on_result(self, callback: Callable[[Result], Any]) -> Callable[[], None]:
        """Call ``callback(result)`` for every result, on the worker thread (keep it quick).

        Exceptions are logged, never stop the stream. Returns a function that unregisters it.
        """
        return self._hub.listen(callback)

    def record(self, path: str | os.PathLike = "clip.mp4", seconds: float | None = 10) -> Recording:
        """Record the composites to a video for ``seconds`` (None: until ``.stop()``).

        Returns at once; ``.wait()`` on the handle gives ``(path, frames, fps, duration_s)``.
        From the browser's camera, at the camera's resolution (see :meth:`snapshot`): the
        view sends full-size frames while it records, from the first of them on.
        """
        return self._full.record(path, seconds, lambda r: r.overlay())

    def wait_source(self, timeout: float | None = None) -> bool:
        """Wait until a kernel-side source has finished (end of stream, error or stop)."""
        runner = self._runner
        if runner is None:
            self._hub.check()
            return True
        return self._hub.wait_until(runner.finished.is_set, timeout)

    def composite(
        self,
        frame: np.ndarray,
        mask: np.ndarray,
        labels: list[str],
        confidence: np.ndarray | None = None,
        alpha: np.ndarray | None = None,
        **settings: Any,
    ) -> np.ndarray:
        """Composite ``mask`` over ``frame`` with this widget's settings (or ``settings``);
        ``confidence`` / ``alpha``: as :class:`Result`'s (the effects' person alpha)."""
        from .render import composite

        names = ("viz_mode", "opacity", "colormap", "custom_palette", "class_filter")
        s = {**{n: getattr(self, n) for n in (*names, "background", "mirror")}, **settings}
        s["mirror"] = s["mirror"] is True  # None (auto) is the view's to resolve
        return composite(frame, mask, labels, confidence=confidence, alpha=alpha, **s)

    def close(self) -> None:
        """Stop the source and the stream, release cameras, finish recordings, close the view."""
        try:
            if getattr(self, "_quiet_status", False) and self.comm is not None:
                unquiet_comm(self.model_id)
            self._stop_source(wait=True)
            if self._source is not None:
                self._source.close()
            if self._session is not None:
                self._transport.send({"type": "closing"})  # ours, not a lost kernel (widget.js)
                self._session.close(wait=5.0)  # then no worker holds its frames or results
            if getattr(self, "_hub", None) is not None:
                self._hub.stop_recordings()
        finally:
            super().close()

    # -- internals: called by the transport and the source runner ------------------------------
    def _on_custom_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if self._transport is not None:
            self._transport.handle(content, buffers)

    def _start_source(self) -> None:
        if self._runner is not None and not self._runner.finished.is_set():
            return
        assert self._source is not None
        assert self._session is not None
        if self.error is not None and self.error.get("code") in ("NO_CAMERA", "CAMERA_CLOSED"):
            self.set_trait("error", None)  # a new run: it reports again if the source fails
        previous = self._runner
        self._runner = SourceRunner(
            self._source,
            self._session.submit,
            on_error=self._transport.report,
            on_finish=self._source_finished,
            resolution=(self.resolution[0], self.resolution[1]),
            first_seq=previous.last_seq if previous is not None else 0,
            name=f"segwidget-source-{self.model_id[:8]}",
        )
        self._runner.start()

    def _stop_source(self, wait: bool) -> None:
        runner = self._runner
        if runner is not None:
            runner.stop(timeout=5.0 if wait else 0)

    def _source_finished(self, reason: str) -> None:
        self._hub.wake()  # ends wait_source()
        if reason != "stopped" and self._session is not None and not self._session.closed:
            self._session.maybe_emit_stats(force=True)
            self.running = False

    def _set_error(self, msg: dict[str, Any], client: bool = False) -> None:
        self._error_from_client = client
        self.set_trait(
            "error",
            {"code": msg["code"], "message": msg["message"], "recoverable": msg["recoverable"]},
        )
        self._hub.wake()  # waits end with this error if it stops the stream

    def _failed(self) -> StreamFailedError | None:
        """The error that keeps this stream from producing results, if any.

        A non-recoverable error with no model serving (a first load failed) or from the view
        (the camera); a failed switch is not one, since the previous profile keeps serving.
        """
        err = self.error
        if err is None or err.get("recoverable"):
            return None
        session = self._session
        if session is not None and session.engine is not None and not self._error_from_client:
            return None
        return StreamFailedError(err["code"], err["message"])

    def _clear_load_error(self) -> None:
        err = getattr(self, "_trait_values", {}).get("error")
        if err is not None and err.get("code") in LOAD_ERRORS and err.get("recoverable"):
            self.set_trait("error", None)

    def _clear_client_error(self) -> None:
        if self._error_from_client:
            self._error_from_client = False
            self.set_trait("error", None)

    def _deliver_result(self, frame: Frame, seg: SegResult) -> None:
        if self._session is not None:
            self._session.pixels(frame, seg)  # a cluster segments JPEGs without decoding here
        alpha, shown = self._smoother.for_result(seg, self.viz_mode, self.smoothing)
        result = Result.from_seg(frame.seq, frame.t_capture, seg, self.composite, alpha, shown)
        if frame.jpeg is None and self._runner is not None:
            self._runner.frame_done(frame.seq)
        err = self.error
        # a frame's recoverable error is over once results resume; a failed switch's stays
        # until the profile is asked for again (or another loads)
        if err is not None and err.get("recoverable") and err.get("code") not in LOAD_ERRORS:
            self.set_trait("error", None)
        names = sorted(n for n, _ in result.classes)
        now = time.monotonic()
        if names != sorted(n for n, _ in self.detected) or now - self._detected_at >= (
            DETECTED_PERIOD_S
        ):
            self._detected_at = now
            self.set_trait("detected", [[n, round(f, 4)] for n, f in result.classes])
        self._hub.publish(result)

    def _deliver_error(self, frame: Frame | None, msg: dict[str, Any]) -> None:
        self._set_error(msg)
        if frame is not None:
            if frame.jpeg is None and self._runner is not None:
                self._runner.frame_done(frame.seq)
            return
        # A profile failed to load: the engine that serves keeps serving and the profile
        # trait goes back to it; with none serving, the stream stops (the error says why).
        session = self._session
        if session is not None and session.engine is not None:
            self._reverting = True
            try:
                self.profile = session.profile
            finally:
                self._reverting = False
        else:
            self.running = False

    def _deliver_stats(self, stats: dict[str, Any]) -> None:
        self.set_trait("stats", stats)

    def _deliver_ready(self, engine: Engine) -> None:
        old, new = self._served_profile, engine.profile
        self._served_profile = new.name
        labels = list(engine.labels)
        self.set_trait("labels", labels)
        old_default = PROFILES[old].default_colormap if old is not None else None
        if old_default not in (None, new.default_colormap) and self.colormap == old_default:
            self.colormap = new.default_colormap
        kept = [n for n in self.class_filter if n in labels]
        if kept != list(self.class_filter):
            self.class_filter = kept
        if self.error is not None and self.error.get("code") in LOAD_ERRORS:
            self.set_trait("error", None)


class _Hooks:
    """The widget as its :class:`CommTransport` sees it (:class:`.comm.WidgetHooks`)."""

    def __init__(self, widget: SegWidget):
        self.widget = widget
        self.show_error = widget._set_error
        self.clear_client_error = widget._clear_client_error
        self.deliver_result = widget._deliver_result
        self.deliver_error = widget._deliver_error
        self.deliver_stats = widget._deliver_stats
        self.deliver_ready = widget._deliver_ready

    def send(self, content: dict[str, Any], buffers: list[bytes] | None) -> None:
        self.widget.send(content, buffers)

    def kernel_source(self) -> bool:
        return self.widget.source_kind == "kernel"

    def display_limits(self) -> tuple[tuple[int, int], int]:
        w = self.widget
        return (w.resolution[0], w.resolution[1]), int(w.jpeg_quality)


__all__ = ["RecordingResult", "Result", "SegWidget"]
