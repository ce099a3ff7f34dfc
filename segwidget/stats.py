"""Per-session stream statistics: rolling per-stage means and rates (the ``stats`` message)."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Protocol

STATS_PERIOD_S = 1.0


class Reported(Protocol):
    """What a frame carries about the client: its timings and its feedback on a result."""

    client: dict[str, float]
    feedback: dict[str, float] | None


class StreamStats:
    """Rolling per-stage means and rates over the last second; thread-safe."""

    CLIENT_STAGES = ("capture", "encode", "decode_mask", "render")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames_processed = 0
        self.frames_dropped = 0
        self.errors = 0
        self._done: collections.deque[tuple[float, dict[str, float]]] = collections.deque()
        self._feedback: collections.deque[tuple[float, dict[str, float]]] = collections.deque()
        self.load_ms: float | None = None  # the first profile's load
        self.switch_ms: float | None = None  # the latest switch from a serving profile

    def record(self, timings: dict[str, float]) -> None:
        now = time.perf_counter()
        with self._lock:
            self.frames_processed += 1
            self._done.append((now, timings))
            self._trim(now)

    def record_feedback(self, frame: Reported) -> None:
        fb = dict(frame.feedback or {})
        fb.update({k: v for k, v in frame.client.items() if k in ("capture_ms", "encode_ms")})
        if not fb:
            return
        now = time.perf_counter()
        with self._lock:
            self._feedback.append((now, fb))
            self._trim(now)

    def _trim(self, now: float) -> None:
        for q in (self._done, self._feedback):
            while q and now - q[0][0] > STATS_PERIOD_S:
                q.popleft()

    def snapshot(self) -> dict[str, Any]:
        now = time.perf_counter()
        with self._lock:
            self._trim(now)
            done = [t for _, t in self._done]
            fb = [t for _, t in self._feedback]
            span = now - self._done[0][0] if len(self._done) > 1 else STATS_PERIOD_S
            fps = (len(self._done) - 1) / span if len(self._done) > 1 and span > 0 else 0.0
            processed, dropped = self.frames_processed, self.frames_dropped

        def mean(rows: list[dict[str, float]], key: str) -> float | None:
            vals = [r[key] for r in rows if isinstance(r.get(key), int | float)]
            return round(sum(vals) / len(vals), 2) if vals else None

        stages = {
            "capture": mean(fb, "capture_ms"),
            "encode": mean(fb, "encode_ms"),
            "upload": _half(mean(fb, "network_ms")),
            "queue": mean(done, "queue"),
            "decode": mean(done, "decode"),
            "preprocess": mean(done, "preprocess"),
            "inference": mean(done, "inference"),
            "postprocess": mean(done, "postprocess"),
            "encode_mask": mean(done, "encode"),
            "download": _half(mean(fb, "network_ms")),
            "decode_mask": mean(fb, "decode_ms"),
            "render": mean(fb, "render_ms"),
        }
        link = {
            "base_ms": mean(fb, "link_base_ms"),
            "queue_ms": mean(fb, "link_queue_ms"),
            "window": mean(fb, "window"),
            "window_want": mean(fb, "window_want"),
            "limited": mean(fb, "link_limited"),
            "up_kbps": mean(fb, "up_kbps"),
        }
        aligned = mean(fb, "aligned")
        return {
            "fps": round(fps, 2),
            "latency_ms": mean(fb, "latency_ms"),
            "link": link if link["base_ms"] is not None else None,
            "display": None if aligned is None else ("aligned" if aligned >= 0.5 else "live"),
            "inference_ms": stages["inference"],
            "frames_processed": processed,
            "frames_dropped": dropped,
            "stages": stages,
            "load_ms": self.load_ms,
            "switch_ms": self.switch_ms,
        }


def _half(x: float | None) -> float | None:
    return None if x is None else round(x / 2, 2)
