"""The model tier: a Ray Serve deployment whose replicas each hold an ``Engine`` and batch.

Each request is one frame (JPEG bytes, or raw pixels already at model size); the reply is the
deflated uint8 mask (and, where the session asked and the profile gives one, the deflated
confidence), its classes and timings, and which replica served it. Frames are decoded and
resized as they arrive (overlapping the batch running), then ``@serve.batch`` collects them;
a batch is split by input-size bucket and each bucket runs as one tensor, one engine call
(:mod:`.batching`). Imported only where a cluster is used (replicas, ``segwidget cluster``):
it imports Ray.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

import ray
from ray import serve

from ..engine import Engine
from ..errors import SegwidgetError
from .batching import Buckets, Prepared, prepare, run_batch
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


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=16)
class SegmentationReplica:
    """One replica: an Engine chosen by ``backend="auto"`` on its node, batching requests."""

    def __init__(self, profile: str = "fast", **engine_kwargs: Any):
        self.engine = Engine(profile, **engine_kwargs)
        ctx = serve.get_replica_context()
        self.replica_id = ctx.replica_id.unique_id
        self.node = socket.gethostname()
        self.node_id = ray.get_runtime_context().get_node_id()
        self._buckets = Buckets(self.engine)
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
        """One frame: ``{"jpeg": bytes}`` or ``{"pixels": bytes, "hw": [h, w]}`` at model size,
        with optional ``size`` and ``confidence`` (see :func:`.batching.prepare`)."""
        arrived = time.perf_counter()
        self.stats.enter()
        try:
            try:
                prepared = await asyncio.to_thread(
                    prepare, self.engine, self._buckets, request, arrived
                )
            except SegwidgetError as exc:
                return {"error": exc.to_message(), "replica": self.replica_id}
            reply = await self._batched(prepared)
            reply["replica_ms"] = round((time.perf_counter() - arrived) * 1000, 3)
            return reply
        finally:
            self.stats.leave()
            self._maybe_report()

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _batched(self, items: list[Prepared]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._run_batch, items)

    def _run_batch(self, items: list[Prepared]) -> list[dict[str, Any]]:
        calls = self.engine.model_calls  # Serve runs one batch at a time per replica
        replies, model_ms = run_batch(self.engine, items)
        self.stats.record_batch(len(items), model_ms, self.engine.model_calls - calls)
        stats = self.stats.snapshot()
        for reply in replies:
            reply.update(replica=self.replica_id, stats=stats)
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
