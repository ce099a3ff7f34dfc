"""The small-machine targets: figures against limits, from a bench row (no timing here)."""

from __future__ import annotations

import os

import pytest

from segwidget.bench.targets import RSS_LIMIT_MB, evaluate, format_targets, rss_mb

MODEL = {"fps": 28.8, "p50_ms": 34.7}


def _row(fps, p50, chromium):
    return {"fps": fps, "latency_p50_ms": p50, "cpu": {"chromium_total": chromium}}


def _by_name(targets):
    return {t["name"]: t for t in targets}


def test_the_issue_figures_miss_every_loop_target():
    # 2026-12-01: 12.84 FPS, p50 152.3 ms, Chromium 86 % of a core, 940 MB resident.
    t = _by_name(evaluate(_row(12.84, 152.3, 86), MODEL, {"serve": 940.0, "kernel": 940.0}))
    assert t["loop_fps"]["limit"] == pytest.approx(0.7 * 28.8, abs=0.01)
    assert t["loop_fps"]["met"] is False
    assert t["latency_p50_ms"]["limit"] == pytest.approx(2 * 34.7 + 20, abs=0.01)
    assert t["latency_p50_ms"]["met"] is False
    # 86 % of a core over 12.84 frames a second: 67 ms of CPU per frame.
    assert t["chromium_cpu_ms_per_frame"]["value"] == pytest.approx(67.0, abs=0.05)
    assert t["chromium_cpu_ms_per_frame"]["met"] is False
    assert t["rss_serve_mb"]["met"] is False
    assert t["camera_rate_on_a_fast_machine"]["met"] is None  # 28.8 FPS: not a fast machine


def test_a_loop_that_keeps_up_meets_them():
    good = _row(22.0, 80.0, 30)
    t = _by_name(evaluate(good, MODEL, {"serve": 190.0, "kernel": 300.0}))
    assert all(t[k]["met"] for k in ("loop_fps", "latency_p50_ms", "chromium_cpu_ms_per_frame"))
    assert t["rss_kernel_mb"]["met"] is True
    assert t["rss_kernel_mb"]["limit"] == RSS_LIMIT_MB


def test_fast_machine_must_reach_the_camera_rate():
    fast = {"fps": 100.0, "p50_ms": 10.0}
    t = _by_name(evaluate(_row(29.5, 30.0, 4), fast, {}))
    assert t["camera_rate_on_a_fast_machine"]["met"] is True
    t = _by_name(evaluate(_row(20.0, 30.0, 4), fast, {}))
    assert t["camera_rate_on_a_fast_machine"]["met"] is False
    assert t["loop_fps"]["met"] is False  # 0.7 x 30 = 21


def test_missing_figures_are_not_applicable_not_met():
    targets = evaluate({"fps": None, "latency_p50_ms": None}, {}, {})
    assert {t["met"] for t in targets} == {None}
    lines = format_targets(targets)
    assert lines[0] == "targets:"
    assert all("[n/a]" in line for line in lines[1:])


def test_format_says_met_and_not_met():
    lines = format_targets(evaluate(_row(12.84, 152.3, 86), MODEL, {"serve": 190.0}))
    assert any(line.startswith("  [NOT met] loop_fps: 12.84 >= 20.16") for line in lines)
    assert any(line.startswith("  [met] rss_serve_mb: 190 <= 350") for line in lines)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_rss_of_this_process_and_of_a_missing_one():
    assert rss_mb() > 10
    assert rss_mb(2**22 + 12345) is None


def test_a_row_names_the_size_most_of_its_frames_went_at():
    from segwidget.bench.e2e.report import upload_sizes

    frames = [{"width": 320, "height": 240}] * 3 + [{"width": 192, "height": 144}] * 5
    assert upload_sizes(frames) == {
        "upload_size": "192x144",
        "upload_sizes": {"320x240": 3, "192x144": 5},
    }
    assert upload_sizes([]) == {"upload_size": None, "upload_sizes": {}}


def test_the_model_alone_is_measured_again_at_the_size_the_loop_adapted_to(monkeypatch):
    from segwidget.bench.e2e import runs

    asked = []

    def fake_alone(width, height, profile="fast"):
        asked.append((width, height, profile))
        return {"frame": f"{width}x{height}", "fps": 70.0, "p50_ms": 14.3}

    monkeypatch.setattr(runs, "model_alone", fake_alone)
    before = {"frame": "320x240", "fps": 28.8, "p50_ms": 34.7}
    assert runs.alone_at({"upload_size": "320x240"}, before) is before
    assert asked == []
    assert runs.alone_at({"upload_size": "192x144"}, before, "person")["frame"] == "192x144"
    assert asked == [(192, 144, "person")]
