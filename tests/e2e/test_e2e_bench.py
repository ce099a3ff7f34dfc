"""``segwidget bench --e2e`` runs the widget in JupyterLab and reports sane figures.

Behaviour only (the JSON's shape and that frames flowed), never timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from segwidget.bench.e2e import requirements

pytestmark = pytest.mark.e2e


def test_e2e_bench_lab_json(tmp_path):
    why = requirements(["lab"])
    if why:
        pytest.skip(why)
    cmd = ["bench", "--e2e", "--host", "lab", "--seconds", "3", "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "segwidget.cli", *cmd],
        capture_output=True,
        text=True,
        timeout=480,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    (run,) = result["runs"]
    assert run["host"] == "lab"
    assert run["fps"] > 0
    assert run["frames_rendered"] > 0
    assert 0 < run["latency_p50_ms"] <= run["latency_p95_ms"]
    assert run["frames_dropped"] >= 0
    assert run["first_result_s"] is not None
    assert run["first_result_s"] > 0
    stages = run["stages"]
    for stage in ("capture", "encode", "inference", "render"):
        assert stages[stage] > 0, stage
    assert stages["decode_mask"] >= 0  # a raw mask (loopback) may take no measurable time
    parts = run["latency_parts"]
    total = sum(parts[k] for k in ("before_send", "network", "server", "after_receive"))
    assert total == pytest.approx(run["latency_mean_ms"], rel=0.05, abs=1.0)
    cpu = run["cpu"]["by_process"]
    assert cpu.get("kernel", 0) > 0
    assert cpu.get("jupyter server", 0) >= 0
    assert any(name.startswith("chromium:") for name in cpu)
    # the fast profile's input size, aspect kept, or a smaller step of adaptive quality
    assert run["upload_size"] in ("320x240", "256x192", "192x144", "128x96")
    small = result["small_machine"]
    assert small["model_alone"]["p50_ms"] > 0
    # the targets' reference ran the model at the size the loop's frames mostly went at
    assert small["model_alone"]["model_input"] == run["upload_size"]
    assert small["memory"]["kernel"] > 0
    assert small["memory"]["serve"] > 0
    names = [t["name"] for t in small["targets"]]
    assert names == [
        "loop_fps",
        "latency_p50_ms",
        "chromium_cpu_ms_per_frame",
        "rss_serve_mb",
        "rss_kernel_mb",
        "camera_rate_on_a_fast_machine",
    ]
    assert all(t["met"] in (True, False, None) for t in small["targets"])


def test_e2e_bench_skips_with_a_reason_when_something_is_missing(monkeypatch, capsys):
    import argparse

    from segwidget.bench import e2e as e2e_bench

    monkeypatch.setattr(e2e_bench, "requirements", lambda hosts: "Chromium is not installed")
    args = argparse.Namespace(e2e=True, host="lab", seconds=3.0, json=True)
    assert e2e_bench.run_e2e(args) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {
        "kind": "segwidget-bench-e2e",
        "skipped": "Chromium is not installed",
    }
    assert "skipped: Chromium is not installed" in out.err
