"""The soak's pass criteria (segwidget.bench.soak.verdict) on made-up samples, and the
command line's checks. The soak itself runs in tests/e2e/test_soak.py."""

from __future__ import annotations

import pytest

from segwidget.bench.harness.procstat import process_memory
from segwidget.bench.soak import MAX_GROWTH_MB, format_verdict, verdict, windows
from segwidget.cli import main


def samples(
    seconds,
    fps=lambda t: 20.0,
    rss=lambda t: 500.0,
    heap=lambda t: 30.0,
    errors=(),
    outside=lambda t: 5.0,
):
    return [
        {
            "t_s": t,
            "fps": fps(t),
            "rss_mb": rss(t),
            "heap_mb": heap(t),
            "outside_cpu": outside(t),
            "errors": int(t in errors),
        }
        for t in range(10, seconds + 1, 10)
    ]


def test_windows_are_five_minutes_or_a_third_of_a_short_soak():
    assert windows(3600) == (30.0, 300.0)
    assert windows(120) == (20.0, 40.0)


def test_a_flat_hour_passes():
    v = verdict(samples(3600, rss=lambda t: 500 + (t % 60) / 10), 3600)
    assert v["passed"], v["failures"]
    assert v["rss_growth_mb"] < 10
    assert v["fps_ratio"] == 1.0


def test_growth_after_the_first_window_fails_but_warm_up_growth_does_not():
    warm = verdict(samples(3600, rss=lambda t: 400 + min(t, 300) / 3), 3600)
    assert warm["passed"], warm["failures"]  # 100 MB in the first 5 minutes: allowed
    leak = verdict(samples(3600, heap=lambda t: 30 + t / 100), 3600)
    assert not leak["passed"]
    assert leak["heap_growth_mb"] >= MAX_GROWTH_MB
    assert "heap_growth_mb" in leak["failures"][0]


def test_decaying_fps_and_errors_fail():
    v = verdict(samples(1800, fps=lambda t: 20 if t < 1500 else 15, errors=(700,)), 1800)
    assert v["fps_ratio"] == 0.75
    assert {f.split()[0] for f in v["failures"]} == {"fps_ratio", "1"}
    assert "FAIL" in format_verdict(v)


def test_fps_that_fell_while_other_jobs_took_the_cpu_is_inconclusive_not_passed():
    busy = lambda t: 5.0 if t < 400 else 120.0  # noqa: E731
    v = verdict(samples(3600, fps=lambda t: 20 if t < 400 else 8, outside=busy), 3600)
    assert v["fps_ratio"] == 0.4
    assert v["failures"] == []
    assert not v["passed"]
    assert "5 -> 120 % of a core" in v["inconclusive"][0]
    assert format_verdict(v).endswith(v["inconclusive"][0])
    assert "INCONCLUSIVE" in format_verdict(v)
    # the same load step with a leak is still a failure, and says both
    leak = verdict(samples(3600, rss=lambda t: 500 + t / 60, outside=busy), 3600)
    assert "FAIL" in format_verdict(leak)
    assert "rss_growth_mb" in format_verdict(leak)


def test_a_small_shift_in_outside_load_is_still_judged():
    rows = samples(1800, fps=lambda t: 20 if t < 1500 else 15, outside=lambda t: t / 100)
    v = verdict(rows, 1800)
    assert v["inconclusive"] == []
    assert "fps_ratio 0.75 < 0.95" in v["failures"]


def test_missing_figures_fail_saying_so():
    rows = samples(600, heap=lambda t: None)
    v = verdict(rows, 600)
    assert "heap_growth_mb: no data" in v["failures"]


def test_process_memory_of_this_process():
    import os

    mem = process_memory(os.getpid())
    assert mem["rss_mb"] > 10
    assert mem["threads"] >= 1
    assert mem["open_files"] >= 3
    assert process_memory(2**22 + 12345) == {"rss_mb": None, "threads": None, "open_files": None}


def test_the_command_refuses_a_soak_too_short_to_judge(capsys):
    assert main(["bench", "--soak", "5"]) == 2
    assert "at least 30 seconds" in capsys.readouterr().err


def test_the_command_needs_a_number():
    with pytest.raises(SystemExit):
        main(["bench", "--soak", "soon"])
