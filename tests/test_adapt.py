"""The adaptive quality controller against a simulated engine (no clock, no sleeps)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from segwidget.adapt import JPEG_STEPS, MAX_BACKOFF, Controller, Level, check_budget, ladder
from segwidget.profiles import input_hw

LEVELS = ladder(320, 16)


def area_engine(base_ms: float, full_ms: float) -> Callable[[Level], float]:
    """Latency that scales with the input's pixels: ``full_ms`` at 320, plus a fixed part;
    a frame rate cap takes load off a shared CPU (10 % per 5 FPS below 30)."""

    def latency(level: Level) -> float:
        ms = base_ms + full_ms * (level.size / 320) ** 2
        if level.max_fps is not None:
            ms *= 1 - 0.1 * (30 - level.max_fps) / 5
        return ms

    return latency


def run(ctl: Controller, engine: Callable[[Level], float], frames: int, seed: int = 0) -> list[int]:
    """Feed ``frames`` latencies (engine at the current level, +-15 % noise); the level of
    each frame."""
    rng = random.Random(seed)
    trace = []
    for _ in range(frames):
        trace.append(ctl.index)
        ctl.observe(engine(ctl.level) * rng.uniform(0.85, 1.15))
    return trace


def changes(trace: list[int]) -> int:
    return sum(a != b for a, b in itertools.pairwise(trace))


def test_ladder_steps_size_then_frame_rate():
    assert [(lv.size, lv.max_fps) for lv in LEVELS] == [
        (320, None),
        (256, None),
        (192, None),
        (128, None),
        (128, 20.0),
        (128, 15.0),
        (128, 10.0),
    ]
    for level in LEVELS[:4]:  # 4:3 frames keep their aspect at every size
        assert input_hw(480, 640, level.size, 16) == (level.size * 3 // 4, level.size)
    assert {lv.size % 32 for lv in ladder(384, 32)} == {0}
    assert ladder(64, 16)[0] == Level(64)


def test_fast_engine_stays_at_full_quality():
    ctl = Controller(LEVELS, budget_ms=200)
    trace = run(ctl, area_engine(20, 40), 2000)
    assert set(trace) == {0}
    assert ctl.changes == 0


def test_slow_engine_steps_down_until_within_budget_and_stays():
    # 320: 320 ms, 256: 212 ms, 192: 128 ms against a 200 ms budget.
    engine = area_engine(20, 300)
    ctl = Controller(LEVELS, budget_ms=200)
    trace = run(ctl, engine, 3000)
    assert ctl.level == Level(192)
    assert ctl.changes == 2
    settled = trace.index(2)
    assert settled < 3 * (ctl.window + ctl.settle)  # one window per step
    assert set(trace[settled:]) == {2}


def test_very_slow_engine_reaches_the_frame_rate_caps():
    ctl = Controller(LEVELS, budget_ms=200)
    run(ctl, area_engine(150, 400), 3000)
    assert ctl.level.max_fps is not None
    assert ctl.changes == ctl.index  # straight down, never back up


def test_borderline_level_is_retried_ever_more_rarely():
    # 256 measures 110 ms (room: under 0.6 x 200), 320 measures 230 ms (over): the naive
    # rule would flip every window. Backoff must make retries rare.
    def engine(level: Level) -> float:
        return 230.0 if level.size == 320 else 110.0

    ctl = Controller(LEVELS, budget_ms=200)
    frames = 6000
    trace = run(ctl, engine, frames)
    windows = frames // ctl.window
    assert changes(trace) <= 2 * (5 + windows // MAX_BACKOFF)
    late = trace[frames // 2 :]
    assert late.count(0) / len(late) < 0.05  # seldom over budget once it has learnt
    assert ctl.index == 1 or late[-1] == 0


def test_returns_to_full_quality_when_the_load_goes_away():
    ctl = Controller(LEVELS, budget_ms=200)
    run(ctl, area_engine(20, 300), 1000)
    assert ctl.index == 2
    trace = run(ctl, area_engine(10, 40), 1000, seed=1)
    assert ctl.index == 0
    assert trace.index(0) < 4 * (ctl.window + ctl.settle)
    assert changes(trace) == 2  # straight back up


def test_noise_around_a_steady_level_does_not_move_it():
    ctl = Controller(LEVELS, budget_ms=200)
    run(ctl, area_engine(20, 300), 500)
    before = ctl.changes
    # 128 ms +-15 % never crosses 200 ms nor drops under 120 ms consistently.
    trace = run(ctl, area_engine(20, 300), 4000, seed=7)
    assert ctl.changes == before
    assert set(trace) == {2}


def test_samples_in_flight_after_a_change_are_skipped():
    ctl = Controller(LEVELS, budget_ms=100, window=4, settle=3)
    for _ in range(4):
        ctl.observe(500)
    assert ctl.index == 1
    for _ in range(3):  # frames captured before the change: ignored
        assert not ctl.observe(500)
    for _ in range(3):
        assert not ctl.observe(50)
    assert ctl.observe(50)  # a full window at the new level, and it has room
    assert ctl.index == 0


def test_disabled_controller_stays_and_disabling_restores_full_quality():
    ctl = Controller(LEVELS, budget_ms=200, enabled=False)
    run(ctl, area_engine(20, 300), 500)
    assert ctl.index == 0
    assert ctl.changes == 0
    ctl.configure(enabled=True)
    run(ctl, area_engine(20, 300), 500)
    assert ctl.index == 2
    assert ctl.configure(enabled=False)
    assert ctl.index == 0


def test_a_larger_budget_takes_effect():
    ctl = Controller(LEVELS, budget_ms=200)
    run(ctl, area_engine(20, 300), 500)
    assert ctl.index == 2
    ctl.configure(budget_ms=1000)
    run(ctl, area_engine(20, 300), 500)
    assert ctl.index == 0


@pytest.mark.parametrize("bad", [0, 5, -1, "fast", None, True, float("nan")])
def test_bad_budget_is_refused(bad):
    with pytest.raises(ValueError, match="latency_budget_ms"):
        check_budget(bad)
    with pytest.raises(ValueError, match="latency_budget_ms"):
        Controller(LEVELS, budget_ms=bad)


def test_garbage_latencies_are_ignored():
    ctl = Controller(LEVELS, budget_ms=100, window=2, settle=0)
    for value in (float("nan"), -5.0, float("nan")):
        assert not ctl.observe(value)
    assert ctl.index == 0
    assert ctl.last_p95 is None


# -- the thin-link controller ----------------------------------------------------------------
LINK_LEVELS = ladder(256, 16, jpeg_steps=JPEG_STEPS)
JPEG_BYTES = {None: 1.0, 60: 0.7, 40: 0.5}  # a frame's size relative to quality 80


def thin_link(up_kbps: float, base_ms: float = 200.0, kernel_ms: float = 5.0):
    """A link whose uplink carries ``up_kbps``: 14 kB frames at 256 px and quality 80, smaller
    with the area and the JPEG quality. Like the browser's window (js/src/window.js), a link
    that cannot carry the camera's 30 frames a second reports ``link_limited`` and a small
    queue (the window shrinks before a large one stands); the latency is the round trip."""

    def feedback(level: Level) -> tuple[float, dict[str, float]]:
        kb = 14.0 * (level.size / 256) ** 2 * JPEG_BYTES[level.jpeg_quality]
        fps = level.max_fps or 30.0
        need_kbps = kb * 8 * fps
        limited = need_kbps > up_kbps
        wire_ms = kb * 8 / up_kbps * 1000
        queue = 25.0 if limited else 2.0
        latency = base_ms + kernel_ms + wire_ms + queue + 20  # + capture and drawing
        link = {
            "latency_ms": latency,
            "link_base_ms": base_ms + wire_ms,
            "link_queue_ms": queue,
            "link_limited": 1 if limited else 0,
            "up_kbps": min(up_kbps, need_kbps),
            "window": 4 if limited else 8,
        }
        return latency, link

    return feedback


def run_link(ctl: Controller, link, frames: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    trace = []
    for _ in range(frames):
        trace.append(ctl.index)
        latency, fb = link(ctl.level)
        ctl.observe(latency * rng.uniform(0.95, 1.05), fb)
    return trace


def test_ladder_with_jpeg_steps_goes_size_then_quality_then_rate():
    assert [(lv.size, lv.max_fps, lv.jpeg_quality) for lv in LINK_LEVELS] == [
        (256, None, None),
        (208, None, None),
        (160, None, None),
        (128, None, None),
        (128, None, 60),
        (128, None, 40),
        (128, 20.0, 40),
        (128, 15.0, 40),
        (128, 10.0, 40),
    ]


def test_a_far_link_with_room_keeps_full_quality():
    # 200 ms away: capture to render is over the 200 ms budget, but that is the link's floor,
    # which no quality step shortens
    ctl = Controller(LINK_LEVELS, budget_ms=200)
    run_link(ctl, thin_link(20000), 2000)
    assert ctl.index == 0
    assert ctl.changes == 0
    assert ctl.reason is None


def test_a_thin_uplink_steps_size_then_jpeg_until_the_frames_fit():
    # 14 kB x 30 = 3.4 Mbit/s at full quality; 0.7 Mbit/s carries 128 px at quality 60 (0.59)
    # but not at 80 (0.84)
    ctl = Controller(LINK_LEVELS, budget_ms=200)
    reasons = []
    trace = []
    link = thin_link(700)
    for i in range(3000):
        trace.append(ctl.index)
        latency, fb = link(ctl.level)
        if ctl.observe(latency * (1 + 0.05 * ((i * 7919) % 11 - 5) / 5), fb):
            reasons.append(ctl.reason)
    assert LINK_LEVELS[4] == Level(128, None, 60)
    assert reasons[3] == (
        "size 128, JPEG 60: link: the uplink carries fewer frames than the camera gives "
        "(about 0.7 Mbit/s got through)"
    )
    # straight down, one window (and the one skipped after a link step) per level
    first = trace.index(4)
    assert first < 4 * (2 * ctl.window + ctl.settle) + ctl.window
    assert changes(trace[: first + 1]) == 4
    assert 5 not in trace  # never below what the link carries
    late = trace[len(trace) // 2 :]
    assert late.count(4) / len(late) > 0.9  # tries quality 80 again ever more rarely


def test_a_very_thin_uplink_reaches_the_frame_rate_caps():
    ctl = Controller(LINK_LEVELS, budget_ms=200)
    run_link(ctl, thin_link(400), 4000)
    assert ctl.level.max_fps is not None
    assert "link" in ctl.reason


def test_a_standing_queue_alone_steps_down():
    ctl = Controller(LINK_LEVELS, budget_ms=200, window=8, settle=0)
    for _ in range(8):
        ctl.observe(300, {"link_base_ms": 200, "link_queue_ms": 80, "link_limited": 0})
    assert ctl.index == 1
    assert "above the link's floor" in ctl.reason


def test_the_link_recovers_and_quality_comes_back():
    ctl = Controller(LINK_LEVELS, budget_ms=200)
    run_link(ctl, thin_link(700), 2000)
    assert ctl.index == 4
    trace = run_link(ctl, thin_link(20000), 3000, seed=1)
    assert ctl.index == 0
    assert ctl.reason.startswith("size 256: room")
    # the level the thin link kept undoing waits out its backoff first, then straight up
    assert trace.index(0) < (MAX_BACKOFF + 8) * (ctl.window + ctl.settle)
    assert changes(trace) == 4


def test_a_slow_kernel_skips_the_jpeg_steps():
    ctl = Controller(LINK_LEVELS, budget_ms=200)
    run(ctl, area_engine(150, 400), 3000)
    assert ctl.level.max_fps is not None
    visited = set()
    ctl2 = Controller(LINK_LEVELS, budget_ms=200)
    for _ in range(3000):
        visited.add(ctl2.index)
        ctl2.observe(area_engine(150, 400)(ctl2.level))
    assert not visited & {4, 5}  # quality 60 and 40 at full rate: no help to the model
    assert ctl2.reason.startswith("size 128, 20 FPS") or "kernel: p95" in ctl2.reason
