"""The benchmark scripts run (their CPU-safe parts) so they cannot rot; no timing asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_benchmark_smoke_run(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu.py"),
            "--smoke",
            "--weights",
            "random",
            "--seconds",
            "0.1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [r["profile"] for r in result["rows"]] == ["fast", "balanced", "accurate", "person"]
    for row in result["rows"]:
        assert row["model_p50_ms"] > 0
        assert row["agree_vs_fp32"] >= 0.999  # ONNX Runtime FP32 vs torch FP32 (person: ORT)


def test_edge_cost_benchmark_smoke_run(tmp_path):
    """benchmarks/edge_cost.py draws real person results through every render path."""
    import shutil

    import pytest

    from segwidget.bench.harness.util import chromium_path

    if not (shutil.which("node") and (ROOT / "node_modules" / "esbuild").is_dir()):
        pytest.skip("needs node and esbuild (npm ci)")
    if not chromium_path():
        pytest.skip("needs Chromium")
    out = tmp_path / "edges.json"
    script = ROOT / "benchmarks" / "edge_cost.py"
    args = ["--profiles", "person", "--results", "5", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(out.read_text())["person"]
    assert set(figures) == {"layer", "aligned", "canvas"}
    assert all(ms > 0 for ms in figures.values())
