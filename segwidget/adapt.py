"""Adaptive quality: step the model's input size and the frame rate to hold latency.

A pure controller, fed one capture-to-render latency per rendered frame; it knows no clock,
so it is tested against a simulated engine without sleeping. It decides once per window of
samples measured at the current level (samples still in flight from the previous level are
skipped), and its hysteresis keeps it from oscillating:

- behind (window p95 over the budget): one level down;
- room (window p95 under ``up_ratio`` x the budget): one level up, but only after as many
  good windows in a row as that level's backoff, which doubles each time an upward step is
  undone within ``UNDONE_WINDOWS``, so a level that cannot hold the budget is retried ever
  more rarely; a level that then holds for ``HELD_WINDOWS`` halves it again.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_BUDGET_MS = 200.0
MIN_BUDGET_MS = 20.0
# Long sides 320, 256, 192, 128 for the fast profile: 4:3 frames keep their aspect exactly
# at a multiple of 16 (160 would round 120 up to 128).
SIZE_FRACTIONS = (1.0, 0.8, 0.6, 0.4)
FPS_STEPS = (20.0, 15.0, 10.0)
MAX_BACKOFF = 32  # windows
UNDONE_WINDOWS = 4
HELD_WINDOWS = 8


@dataclass(frozen=True)
class Level:
    """One quality step: the model's long side and a frame rate cap (``None``: uncapped)."""

    size: int
    max_fps: float | None = None


def ladder(top: int, multiple: int = 16, floor: int = 128) -> list[Level]:
    """Quality levels from ``top`` down: smaller inputs first, then lower frame rates."""
    floor = min(top, max(floor, 4 * multiple))
    sizes: list[int] = []
    for f in SIZE_FRACTIONS:
        s = max(floor, round(top * f / multiple) * multiple)
        if s not in sizes:
            sizes.append(s)
    return [*(Level(s) for s in sizes), *(Level(sizes[-1], fps) for fps in FPS_STEPS)]


def check_budget(value: object) -> float:
    """A valid ``latency_budget_ms``, or ValueError saying what is accepted."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= MIN_BUDGET_MS:
        raise ValueError(
            f"latency_budget_ms must be a number of milliseconds >= {MIN_BUDGET_MS:g}, "
            f"got {value!r}"
        )
    return float(value)


def p95(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


class Controller:
    """Holds p95 latency under ``budget_ms`` by walking ``levels`` (best first).

    Call :meth:`observe` with each rendered frame's latency; it returns True when the level
    changed (read :attr:`level`). Disabled, it stays at the best level.
    """

    def __init__(
        self,
        levels: list[Level],
        budget_ms: float = DEFAULT_BUDGET_MS,
        enabled: bool = True,
        window: int = 16,
        settle: int = 3,
        up_ratio: float = 0.6,
    ):
        if not levels:
            raise ValueError("the controller needs at least one level")
        self.levels = list(levels)
        self.budget_ms = check_budget(budget_ms)
        self.enabled = enabled
        self.window, self.settle, self.up_ratio = window, settle, up_ratio
        self.index = 0
        self.changes = 0
        self.last_p95: float | None = None
        self._samples: collections.deque[float] = collections.deque(maxlen=window)
        self._skip = 0
        self._good = 0
        self._backoff = [1] * len(self.levels)  # good windows needed to step up to level i
        self._since_up: int | None = None  # windows since the last change, if it was a step up

    @property
    def level(self) -> Level:
        return self.levels[self.index]

    @property
    def adapted(self) -> bool:
        return self.index > 0

    def configure(self, budget_ms: float | None = None, enabled: bool | None = None) -> bool:
        """Change the budget or switch adaptation on/off; True if the level changed."""
        if budget_ms is not None:
            self.budget_ms = check_budget(budget_ms)
        if enabled is not None:
            self.enabled = bool(enabled)
        self._good = 0
        self._samples.clear()
        if not self.enabled and self.index:
            self._move(0)
            return True
        return False

    def observe(self, latency_ms: float) -> bool:
        """Feed one frame's capture-to-render latency; True if the level changed."""
        if not self.enabled or not latency_ms >= 0:
            return False
        if self._skip:
            self._skip -= 1  # captured before the last change: says nothing about this level
            return False
        self._samples.append(float(latency_ms))
        if len(self._samples) < self.window:
            return False
        self.last_p95 = p95(self._samples)
        self._samples.clear()
        if self.last_p95 > self.budget_ms:
            self._good = 0
            if self._since_up is not None and self._since_up < UNDONE_WINDOWS:
                self._backoff[self.index] = min(MAX_BACKOFF, self._backoff[self.index] * 2)
            if self.index + 1 < len(self.levels):
                self._move(self.index + 1)
                return True
            return False
        if self._since_up is not None:
            self._since_up += 1
            if self._since_up == HELD_WINDOWS:
                self._backoff[self.index] = max(1, self._backoff[self.index] // 2)
        if self.last_p95 < self.up_ratio * self.budget_ms and self.index > 0:
            self._good += 1
            if self._good >= self._backoff[self.index - 1]:
                self._move(self.index - 1)
                self._since_up = 0
                return True
        else:
            self._good = 0
        return False

    def _move(self, index: int) -> None:
        self._since_up = None
        self.index = index
        self.changes += 1
        self._good = 0
        self._samples.clear()
        self._skip = self.settle
