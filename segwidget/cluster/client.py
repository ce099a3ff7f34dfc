"""``RemoteEngine``: quacks like :class:`~segwidget.engine.Engine` for sessions, runs on Serve.

Sessions, their newest-frame slot and stats stay in this process; each frame goes to the
profile's Serve application as JPEG bytes (or raw pixels at model size) and its mask comes
back deflated; so does the confidence (the person profile's), only for a frame whose session
needs it (``confidence=True``), so that other sessions neither get nor pay for it.

A replica that dies costs at most the frames in flight on it: each is retried once (Serve
routes the retry to a live replica) and, failing again, gets a recoverable
``CLUSTER_UNAVAILABLE`` error; later frames reconnect by themselves when the tier returns.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from typing import Any

import numpy as np

from ..engine import LABELS, SegResult
from ..errors import ClusterUnavailableError, SegwidgetError
from ..labels import PALETTES
from ..preprocess import DEFAULT_MAX_SIDE, jpeg_size, resize, validate_frame
from ..profiles import Profile, get_profile
from . import connect
from .config import app_name
from .stats import with_age

log = logging.getLogger(__name__)

#: Seconds a frame may take on the model tier before it counts as failed (and is retried).
CALL_TIMEOUT_S = 30.0
#: After a failed reconnect, frames fail fast for this long instead of waiting on a dead tier.
RECONNECT_BACKOFF_S = 1.0
#: Recent failures inside this window mark the tier as degraded in ``stats``.
DEGRADED_WINDOW_S = 10.0
STATE_TTL_S = 2.0


class RemoteEngine:
    """The ``profile``'s Serve application at ``cluster``, used like a local ``Engine``.

    ``concurrency``: how many frames (from different sessions) should be in flight at once
    for replicas to batch across clients (a scheduler with that many workers).
    """

    concurrency = 32

    def __init__(
        self,
        profile: str = "fast",
        cluster: str = "auto",
        timeout_s: float = CALL_TIMEOUT_S,
        max_side: int = DEFAULT_MAX_SIDE,
        **_local_engine_kwargs: Any,  # weights, backend, ...: the deployment's own choice
    ):
        t0 = time.perf_counter()
        self.profile: Profile = get_profile(profile)
        self.address = cluster
        self.app = app_name(profile)
        self.timeout_s = timeout_s
        self.max_side = max_side
        self.labels: list[str] = list(LABELS[self.profile.dataset])
        self.palette: np.ndarray = PALETTES[self.profile.default_colormap]
        self._lock = threading.Lock()
        self._handle: Any = None
        self._down_since: float | None = None
        self._last_attempt = 0.0
        self._failures: list[float] = []
        self.retries = 0
        self.lost = 0
        self._replicas: dict[str, dict[str, Any]] = {}
        self._state: tuple[float, dict[str, Any]] = (0.0, {})
        connect.ensure_ray(cluster)
        self._handle = connect.app_handle(self.app, cluster)
        remote = self._call_plain(self._handle.info)
        self.input_size: int = int(remote["input_size"])
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.info: dict[str, Any] = {
            **{k: v for k, v in remote.items() if k not in ("replica", "node")},
            "backend_reason": f"cluster {cluster} ({self.app}): {remote.get('backend_reason', '')}",
            "cluster": cluster,
            "app": self.app,
            "load_ms": round(self.load_ms, 1),
        }

    def __repr__(self) -> str:
        return f"RemoteEngine({self.profile.name!r}, cluster={self.address!r})"

    def model_hw(self, height: int, width: int, size: int | None = None) -> tuple[int, int]:
        """Model input (height, width) for a frame of this size (as the replicas compute it);
        ``size``: the long side (default :attr:`input_size`)."""
        return self.profile.model_hw(height, width, size or self.input_size)

    # -- frames -------------------------------------------------------------------------
    def segment_jpeg(
        self, data: bytes, size: int | None = None, confidence: bool = True
    ) -> SegResult:
        """Segment a JPEG on the cluster; its header is checked here, pixels decoded there.
        ``size`` overrides the model's long side for this frame (adaptive quality);
        ``confidence=False``: the replica leaves the confidence out (and so does the result)."""
        jpeg_size(data, self.max_side)
        request = {"jpeg": bytes(data), "size": size, "confidence": self._soft(confidence)}
        return self._segment(request, None)

    def segment(
        self, rgb: np.ndarray, size: int | None = None, confidence: bool = True
    ) -> SegResult:
        """Segment an RGB frame: resized here to model size, sent as raw pixels."""
        validate_frame(rgb, self.max_side)
        t0 = time.perf_counter()
        hw = self.model_hw(*rgb.shape[:2], size)
        small = np.ascontiguousarray(resize(rgb, *hw, self.profile.resize))
        prep = (time.perf_counter() - t0) * 1000
        request = {"pixels": small.tobytes(), "hw": list(hw), "size": size}
        request["confidence"] = self._soft(confidence)
        result = self._segment(request, rgb)
        result.timings["preprocess"] = result.timings.get("preprocess", 0.0) + prep
        return result

    def _soft(self, confidence: bool) -> bool:
        """Whether to ask the replica for the confidence: wanted, and the profile has one."""
        return bool(confidence) and self.profile.soft_output

    def _segment(self, request: dict[str, Any], rgb: np.ndarray | None) -> SegResult:
        t0 = time.perf_counter()
        reply = self._call(request)
        round_trip = (time.perf_counter() - t0) * 1000
        if "error" in reply:
            err = SegwidgetError(reply["error"]["message"])
            err.code = reply["error"].get("code", "INFERENCE_FAILED")
            raise err
        h, w = reply["hw"]
        mask = np.frombuffer(zlib.decompress(reply["mask"]), np.uint8).reshape(h, w)
        timings = dict(reply["timings"])
        # what Ray adds: handle routing, serialisation, transfers (round trip - replica time)
        timings["cluster"] = max(0.0, round_trip - reply["replica_ms"])
        self._note_replica(reply)
        extra = {"replica": reply["replica"], "batch": reply["batch"], "deflated": reply["mask"]}
        result = SegResult(
            mask, [tuple(c) for c in reply["classes"]], self.labels, timings, rgb,
            self.profile.name, extra,
        )  # fmt: skip
        if reply.get("confidence") is not None:
            soft = zlib.decompress(reply["confidence"])
            result.confidence = np.frombuffer(soft, np.uint8).reshape(h, w)
            extra["deflated_confidence"] = reply["confidence"]
        if "model" in reply:
            extra["model"] = reply["model"]
        return result

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One frame through the tier: retried once on failure, then a recoverable error."""
        error: Exception | None = None
        for attempt in range(2):
            handle = self._current_handle()
            try:
                return self._call_plain(handle.segment, request)
            except SegwidgetError:
                raise
            except Exception as exc:
                error = exc
                self._failures.append(time.monotonic())
                if attempt == 0:
                    self.retries += 1
                    log.info("%s: frame failed on a replica (%s); retrying once", self.app, exc)
                    if _app_gone(exc):
                        self._drop_handle()
        self.lost += 1
        self._drop_handle()
        raise ClusterUnavailableError(
            f"the model tier at {self.address} ({self.app}) failed this frame twice: "
            f"{type(error).__name__}: {error}"
        )

    def _call_plain(self, method: Any, *args: Any) -> Any:
        return method.remote(*args).result(timeout_s=self.timeout_s)

    def _current_handle(self) -> Any:
        """The handle, reconnecting (at most once per backoff period) if it was dropped."""
        with self._lock:
            if self._handle is not None:
                return self._handle
            now = time.monotonic()
            if now - self._last_attempt < RECONNECT_BACKOFF_S:
                raise ClusterUnavailableError(
                    f"the model tier at {self.address} ({self.app}) is unavailable; reconnecting"
                )
            self._last_attempt = now
            try:
                connect.ensure_ray(self.address)
                self._handle = connect.app_handle(self.app, self.address)
            except ClusterUnavailableError as exc:
                raise ClusterUnavailableError(str(exc)) from None  # recoverable mid-stream
            self._down_since = None
            return self._handle

    def _drop_handle(self) -> None:
        with self._lock:
            self._handle = None
            self._down_since = self._down_since or time.monotonic()

    # -- stats --------------------------------------------------------------------------
    def _note_replica(self, reply: dict[str, Any]) -> None:
        stats = reply.get("stats")
        if stats:
            with self._lock:
                self._replicas[stats["replica"]] = {**stats, "last_batch": reply["batch"]}

    def _serve_state(self) -> dict[str, Any]:
        when, state = self._state
        if time.monotonic() - when > STATE_TTL_S:
            try:
                state = connect.serve_state([self.app]).get(self.app, {"status": "NOT_FOUND"})
            except Exception as exc:
                state = {"status": "UNREACHABLE", "message": str(exc)}
            self._state = (time.monotonic(), state)
        return state

    def cluster_stats(self) -> dict[str, Any]:
        """What ``stats`` shows: replicas running vs wanted, degraded state, per replica rows."""
        now = time.monotonic()
        self._failures = [t for t in self._failures if now - t < DEGRADED_WINDOW_S]
        state = self._serve_state()
        with self._lock:
            rows = with_age(list(self._replicas.values()))
        live = [r for r in rows if not r["stale"]]
        running = state.get("running", 0)
        reasons = []
        if self._handle is None:
            reasons.append("model tier unreachable; reconnecting")
        if state.get("status") not in (None, "RUNNING"):
            reasons.append(f"application {state.get('status')}: {state.get('message') or ''}")
        if self._failures:
            reasons.append(f"{len(self._failures)} failed calls in {DEGRADED_WINDOW_S:.0f}s")
        return {
            "address": self.address,
            "app": self.app,
            "replicas": running,
            "replica_states": state.get("replica_states", {}),
            "degraded": bool(reasons),
            "reason": "; ".join(reasons) or None,
            "retries": self.retries,
            "lost": self.lost,
            "per_replica": [
                {k: r.get(k) for k in ("replica", "node", "device", "requests", "batches",
                                       "model_calls", "mean_batch", "recent_batch", "queue",
                                       "model_ms", "age_s")}
                for r in live
            ],
        }  # fmt: skip


def _app_gone(exc: Exception) -> bool:
    """A failure meaning the handle is stale (the application was deleted or redeployed)."""
    name = type(exc).__name__
    return name in ("DeploymentUnavailableError", "RayServeException") or "not found" in str(exc)


_pool: dict[tuple[str, str], RemoteEngine] = {}
_pool_guard = threading.Lock()


def get_remote_engine(profile: str = "fast", cluster: str = "auto", **kwargs: Any) -> RemoteEngine:
    """One shared ``RemoteEngine`` per (profile, cluster): sessions share its handle and stats."""
    key = (profile, cluster)
    with _pool_guard:
        engine = _pool.get(key)
        if engine is None:
            engine = _pool[key] = RemoteEngine(profile, cluster, **kwargs)
        return engine


def clear_remote_engines() -> None:
    with _pool_guard:
        _pool.clear()
