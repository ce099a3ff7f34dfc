"""Adaptive quality: step the frame size, JPEG quality and frame rate to hold latency.

A pure controller, fed one capture-to-render latency per rendered frame and what the
browser measured of the link (the frame ``feedback``: js/src/window.js); it knows no clock,
so it is tested against a simulated engine and link without sleeping. It decides once per
window of samples measured at the current level (samples still in flight from the previous
level are skipped), and its hysteresis keeps it from oscillating:

- behind, one level down, when either
  - the kernel: the window's p95 latency, less the link's floor (the round trip no quality
    step can shorten), is over the budget; a step that only lowers the JPEG quality is
    skipped here (it does not make the model faster); or
  - the link: the uplink cannot carry the frames: the browser's window had to shrink for a
    queue (``link_limited``) in most of the window's frames, or the link's time stands
    ``LINK_QUEUE_MS`` above its floor while the kernel's time does not grow;
- room (p95 under ``up_ratio`` x the budget, and no link trouble): one level up, but only
  after as many good windows in a row as that level's backoff, which doubles each time an
  upward step is undone within ``UNDONE_WINDOWS``, so a level that cannot hold the budget is
  retried ever more rarely; a level that then holds for ``HELD_WINDOWS`` halves it again.

:attr:`Controller.reason` says what the last change did and why (``stats["adapt_reason"]``).
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
#: JPEG qualities a thin link steps through at the smallest size, before the frame rate.
JPEG_STEPS = (60, 40)
#: The link's time this far above its floor (median of a window, ms) is a standing queue.
LINK_QUEUE_MS = 50.0
#: Share of a window's frames sent while the browser's window was link-limited that makes
#: the link the bottleneck.
LIMITED_SHARE = 0.5
MAX_BACKOFF = 32  # windows
UNDONE_WINDOWS = 4
HELD_WINDOWS = 8


@dataclass(frozen=True)
class Level:
    """One quality step: the model's long side, a frame rate cap and a JPEG quality cap
    (``None``: uncapped, the ``jpeg_quality`` setting)."""

    size: int
    max_fps: float | None = None
    jpeg_quality: int | None = None


def ladder(
    top: int, multiple: int = 16, floor: int = 128, jpeg_steps: tuple[int, ...] = ()
) -> list[Level]:
    """Quality levels from ``top`` down: smaller inputs first, then (``jpeg_steps``) lower
    JPEG qualities at the smallest size, then lower frame rates."""
    floor = min(top, max(floor, 4 * multiple))
    sizes: list[int] = []
    for f in SIZE_FRACTIONS:
        s = max(floor, round(top * f / multiple) * multiple)
        if s not in sizes:
            sizes.append(s)
    q = jpeg_steps[-1] if jpeg_steps else None
    return [
        *(Level(s) for s in sizes),
        *(Level(sizes[-1], None, jq) for jq in jpeg_steps),
        *(Level(sizes[-1], fps, q) for fps in FPS_STEPS),
    ]


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


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def _number(link: dict[str, float] | None, key: str) -> float | None:
    value = (link or {}).get(key)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


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
        self.reason: str | None = None  # what the last change did and why
        self.link: dict[str, float] = {}  # the latest link figures from the browser
        self._samples: collections.deque[float] = collections.deque(maxlen=window)
        self._queue: list[float] = []  # the window's link queue (ms), where reported
        self._limited: list[bool] = []  # the window's frames: link-limited when sent
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
        self._clear()
        if not self.enabled and self.index:
            self._move(0, "adaptive quality off: full quality")
            return True
        return False

    def observe(self, latency_ms: float, link: dict[str, float] | None = None) -> bool:
        """Feed one frame's capture-to-render latency and, where the browser measured it,
        its link (the feedback's ``link_base_ms``, ``link_queue_ms``, ``link_limited``, ...);
        True if the level changed."""
        if not self.enabled or not latency_ms >= 0:
            return False
        if link:
            self.link = {k: v for k, v in link.items() if k.startswith(("link_", "window", "up_"))}
        if self._skip:
            self._skip -= 1  # captured before the last change: says nothing about this level
            return False
        base = _number(link, "link_base_ms") or 0.0
        self._samples.append(max(0.0, float(latency_ms) - base))
        queue = _number(link, "link_queue_ms")
        if queue is not None:
            self._queue.append(queue)
        self._limited.append(bool((link or {}).get("link_limited")))
        if len(self._samples) < self.window:
            return False
        self.last_p95 = p95(self._samples)
        link_why = self._link_trouble()
        kernel_behind = self.last_p95 > self.budget_ms
        self._clear()
        if kernel_behind or link_why:
            self._good = 0
            if self._since_up is not None and self._since_up < UNDONE_WINDOWS:
                self._backoff[self.index] = min(MAX_BACKOFF, self._backoff[self.index] * 2)
            if self.index + 1 < len(self.levels):
                if link_why:
                    self._move(self.index + 1, f"link: {link_why}", skip=self.window)
                else:
                    self._move(self._kernel_step(), self._behind_text())
                return True
            return False
        if self._since_up is not None:
            self._since_up += 1
            if self._since_up == HELD_WINDOWS:
                self._backoff[self.index] = max(1, self._backoff[self.index] // 2)
        if self.last_p95 < self.up_ratio * self.budget_ms and self.index > 0:
            self._good += 1
            if self._good >= self._backoff[self.index - 1]:
                self._move(self.index - 1, f"room: p95 {self.last_p95:.0f} ms, link clear")
                self._since_up = 0
                return True
        else:
            self._good = 0
        return False

    def _link_trouble(self) -> str | None:
        """Why the uplink cannot carry the frames, from this window's samples, or None."""
        limited = sum(self._limited) / len(self._limited) if self._limited else 0.0
        if limited >= LIMITED_SHARE:
            kbps = _number(self.link, "up_kbps")
            carried = f" (about {kbps / 1000:.1f} Mbit/s got through)" if kbps else ""
            return f"the uplink carries fewer frames than the camera gives{carried}"
        if len(self._queue) >= self.window // 2 and median(self._queue) > LINK_QUEUE_MS:
            return (
                f"round trip {median(self._queue):.0f} ms above the link's floor "
                "while the kernel's time stays flat"
            )
        return None

    def _kernel_step(self) -> int:
        """One level down for a slow kernel, past levels that only lower the JPEG quality."""
        i = self.index + 1
        here = self.levels[self.index]
        while i + 1 < len(self.levels):
            lv = self.levels[i]
            if (lv.size, lv.max_fps) != (here.size, here.max_fps):
                break
            i += 1
        return i

    def _behind_text(self) -> str:
        return f"kernel: p95 {self.last_p95:.0f} ms over the {self.budget_ms:.0f} ms budget"

    def _clear(self) -> None:
        self._samples.clear()
        self._queue.clear()
        self._limited.clear()

    def _move(self, index: int, reason: str | None = None, skip: int = 0) -> None:
        self._since_up = None
        self.index = index
        self.changes += 1
        self._good = 0
        self._clear()
        self._skip = self.settle + skip
        lv = self.levels[index]
        what = [f"size {lv.size}"]
        if lv.jpeg_quality:
            what.append(f"JPEG {lv.jpeg_quality}")
        if lv.max_fps:
            what.append(f"{lv.max_fps:g} FPS")
        self.reason = f"{', '.join(what)}: {reason}" if reason else ", ".join(what)
