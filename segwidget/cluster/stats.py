"""Per-replica counters (requests, batch sizes, queue depth, model time) and their table.

Pure Python: replicas count with :class:`ReplicaStats`, report snapshots to the stats board
actor, and ``segwidget cluster status`` / session stats format them with :func:`table`.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

STATS_ACTOR = "segwidget-stats"
STATS_NAMESPACE = "segwidget"

#: A replica that has not reported for this long is shown as stale (dead or restarted).
STALE_S = 10.0


class ReplicaStats:
    """One replica's counters; ``snapshot`` is what replies and the stats board carry."""

    RECENT = 50  # batches in the rolling means

    def __init__(self, replica: str, node: str, device: str, pid: int):
        self.replica, self.node, self.device, self.pid = replica, node, device, pid
        self._lock = threading.Lock()
        self.requests = 0
        self.batches = 0
        self.model_calls = 0  # engine calls: one per shape bucket of a batch
        self.pending = 0
        self._recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=self.RECENT)

    def enter(self) -> None:
        with self._lock:
            self.pending += 1

    def leave(self) -> None:
        with self._lock:
            self.pending -= 1

    def record_batch(self, size: int, model_ms: float, calls: int = 1) -> None:
        with self._lock:
            self.requests += size
            self.batches += 1
            self.model_calls += calls
            self._recent.append((size, model_ms))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            recent = list(self._recent)
            out = {
                "replica": self.replica,
                "node": self.node,
                "device": self.device,
                "pid": self.pid,
                "requests": self.requests,
                "batches": self.batches,
                "model_calls": self.model_calls,
                "queue": self.pending,
                "time": time.time(),
            }
        out["mean_batch"] = round(self.requests / self.batches, 2) if self.batches else None
        out["recent_batch"] = round(sum(s for s, _ in recent) / len(recent), 2) if recent else None
        out["model_ms"] = round(sum(m for _, m in recent) / len(recent), 2) if recent else None
        return out


def with_age(rows: list[dict[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
    """Rows with ``age_s`` (since the replica's report) and ``stale``, newest first."""
    now = time.time() if now is None else now
    out = []
    for row in sorted(rows, key=lambda r: -r.get("time", 0)):
        age = max(0.0, now - row.get("time", now))
        out.append({**row, "age_s": round(age, 1), "stale": age > STALE_S})
    return out


COLUMNS = (
    ("replica", "replica"),
    ("node", "node"),
    ("device", "device"),
    ("requests", "requests"),
    ("mean_batch", "mean batch"),
    ("model_calls", "model calls"),
    ("queue", "queue"),
    ("model_ms", "model ms"),
    ("age_s", "age s"),
)


def table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of replica rows (``segwidget cluster status``)."""
    if not rows:
        return "  (no replica has reported yet)"
    cells = [[h for _, h in COLUMNS]]
    for row in rows:
        line = ["-" if row.get(k) is None else str(row.get(k)) for k, _ in COLUMNS]
        if row.get("stale"):
            line[0] += " (stale)"
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    )
