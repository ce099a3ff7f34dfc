"""The model tier: a Ray Serve deployment whose replicas each hold an ``Engine`` and batch.

Each request is one frame (JPEG bytes, or raw pixels already at model size); the reply is the
deflated uint8 mask, its classes and timings, and which replica served it. Frames are decoded
and resized as they arrive (overlapping the batch running), then ``@serve.batch`` collects
them; a batch is split by input-size bucket (:mod:`.buckets`) so each group is one tensor.
Imported only where a cluster is used (replicas, ``segwidget cluster``): it imports Ray.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import zlib
from typing import Any

import numpy as np
import ray
from ray import serve

from ..engine import Engine
from ..errors import SegwidgetError
from ..postprocess import class_fractions
from ..preprocess import decode_jpeg, resize, validate_frame
from .buckets import bucket_shapes, choose_bucket, letterbox, unletterbox
from .config import DEPLOYMENT_NAME
from .stats import STATS_ACTOR, STATS_NAMESPACE, ReplicaStats

log = logging.getLogger(__name__)

#: A replica reports its counters to the stats board at most this often.
REPORT_PERIOD_S = 1.0


@ray.remote(num_cpus=0)
class StatsBoard:
    """A detached actor holding each replica's latest counters, for ``segwidget cluster status``
    (Serve routes handle calls to any replica, so asking replicas in turn would miss some)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def report(self, row: dict[str, Any]) -> None:
        self.rows[row["replica"]] = row

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self.rows.values())

    def forget(self, replica: str) -> None:
        self.rows.pop(replica, None)


class _Prepared:
    """A frame decoded and resized, waiting for its batch; ``bucket``: the tensor it joins."""

    __slots__ = ("arrived", "bucket", "hw", "offset", "pixels", "timings")

    def __init__(self, pixels: np.ndarray, hw: tuple[int, int], timings: dict, arrived: float):
        self.pixels, self.hw, self.timings, self.arrived = pixels, hw, timings, arrived
        self.offset = (0, 0)
        self.bucket = hw


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=16)
class SegmentationReplica:
    """One replica: an Engine chosen by ``backend="auto"`` on its node, batching requests."""

    def __init__(self, profile: str = "fast", **engine_kwargs: Any):
        self.engine = Engine(profile, **engine_kwargs)
        ctx = serve.get_replica_context()
        self.replica_id = ctx.replica_id.unique_id
        self.node = socket.gethostname()
        self.node_id = ray.get_runtime_context().get_node_id()
        self._buckets: dict[int, list[tuple[int, int]]] = {}  # per long side (adaptive sizes)
        info = self.engine.info
        self.stats = ReplicaStats(
            self.replica_id, self.node, f"{info['backend']}/{info['device']}", os.getpid()
        )
        self._board = None
        self._last_report = 0.0
        self._report()

    # -- configuration ------------------------------------------------------------------
    def reconfigure(self, config: dict[str, Any]) -> None:
        """Serve's ``user_config``: batching knobs, applied without restarting the replica."""
        if "max_batch_size" in config:
            self._batched.set_max_batch_size(int(config["max_batch_size"]))
        if "batch_wait_timeout_s" in config:
            self._batched.set_batch_wait_timeout_s(float(config["batch_wait_timeout_s"]))

    # -- requests -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The engine's info plus where this replica runs."""
        return {**self.engine.info, "replica": self.replica_id, "node": self.node}

    def replica_stats(self) -> dict[str, Any]:
        return self.stats.snapshot()

    async def segment(self, request: dict[str, Any]) -> dict[str, Any]:
        """One frame: ``{"jpeg": bytes}`` or ``{"pixels": bytes, "hw": [h, w]}`` at model size."""
        arrived = time.perf_counter()
        self.stats.enter()
        try:
            try:
                prepared = await asyncio.to_thread(self._prepare, request, arrived)
            except SegwidgetError as exc:
                return {"error": exc.to_message(), "replica": self.replica_id}
            reply = await self._batched(prepared)
            reply["replica_ms"] = round((time.perf_counter() - arrived) * 1000, 3)
            return reply
        finally:
            self.stats.leave()
            self._maybe_report()

    def _prepare(self, request: dict[str, Any], arrived: float) -> _Prepared:
        t0 = time.perf_counter()
        size = request.get("size") or self.engine.input_size
        if request.get("jpeg") is not None:
            rgb = decode_jpeg(request["jpeg"], self.engine.max_side)
            t1 = time.perf_counter()
            validate_frame(rgb, self.engine.max_side)
            hw = self.engine.model_hw(*rgb.shape[:2], size)
            rgb = resize(rgb, *hw, self.engine.profile.resize)
        else:
            h, w = (int(v) for v in request["hw"])
            data = request["pixels"]
            if len(data) != h * w * 3:
                raise SegwidgetError(f"raw frame of {len(data)} bytes is not {w}x{h}x3")
            rgb, hw, t1 = np.frombuffer(data, np.uint8).reshape(h, w, 3), (h, w), t0
        timings = {"decode": (t1 - t0) * 1000, "preprocess": (time.perf_counter() - t1) * 1000}
        prepared = _Prepared(rgb, hw, timings, arrived)
        prepared.bucket = choose_bucket(hw, self._buckets_for(int(size)))
        return prepared

    def _buckets_for(self, size: int) -> list[tuple[int, int]]:
        if self.engine.profile.shipped:
            return []  # fixed-size shipped models: each frame keeps its own shape, no padding
        if size not in self._buckets:
            self._buckets[size] = bucket_shapes(size, self.engine.profile.multiple)
        return self._buckets[size]

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _batched(self, items: list[_Prepared]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._run_batch, items)

    def _run_batch(self, items: list[_Prepared]) -> list[dict[str, Any]]:
        start = time.perf_counter()
        groups: dict[tuple[int, int], list[int]] = {}
        for i, it in enumerate(items):
            groups.setdefault(it.bucket, []).append(i)
        masks: list[np.ndarray | None] = [None] * len(items)
        model_ms = 0.0
        for bucket, idx in groups.items():
            tensors = []
            for i in idx:
                padded, items[i].offset = letterbox(items[i].pixels, bucket)
                tensors.append(padded.transpose(2, 0, 1))
            t0 = time.perf_counter()
            out = self.engine.infer_batch(np.ascontiguousarray(np.stack(tensors)))
            model_ms += (time.perf_counter() - t0) * 1000
            for k, i in enumerate(idx):
                masks[i] = unletterbox(out[k], items[i].hw, items[i].offset)
        self.stats.record_batch(len(items), model_ms)
        replies = []
        for it, mask in zip(items, masks, strict=True):
            t0 = time.perf_counter()
            classes = class_fractions(mask, len(self.engine.labels))
            payload = zlib.compress(mask.tobytes(), 1)
            timings = {
                **it.timings,
                "batch_wait": (start - it.arrived) * 1000 - sum(it.timings.values()),
                "inference": model_ms,
                "postprocess": (time.perf_counter() - t0) * 1000,
            }
            replies.append(
                {
                    "mask": payload,
                    "hw": list(mask.shape),
                    "classes": classes,
                    "timings": timings,
                    "batch": len(items),
                    "replica": self.replica_id,
                    "stats": self.stats.snapshot(),
                }
            )
        return replies

    # -- stats board --------------------------------------------------------------------
    def _maybe_report(self) -> None:
        if time.monotonic() - self._last_report >= REPORT_PERIOD_S:
            self._report()

    def _report(self) -> None:
        self._last_report = time.monotonic()
        try:
            if self._board is None:
                self._board = StatsBoard.options(
                    name=STATS_ACTOR,
                    namespace=STATS_NAMESPACE,
                    lifetime="detached",
                    get_if_exists=True,
                    num_cpus=0,
                ).remote()
            self._board.report.remote(self.stats.snapshot())  # fire and forget
        except Exception as exc:  # stats must never cost a frame
            log.warning("reporting replica stats failed: %s", exc)
            self._board = None


def build_app(args: dict[str, Any]) -> Any:
    """Serve application builder (``serve deploy``'s ``import_path``): ``args`` go to Engine."""
    return SegmentationReplica.bind(**dict(args))
