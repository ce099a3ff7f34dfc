import json
import subprocess
import sys

import pytest

from segwidget.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "download", "serve"):
        assert command in out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "segwidget.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("segwidget ")


def test_bench_json_has_a_row_per_backend_and_the_ratio(capsys):
    code = main(["bench", "--profile", "fast", "--weights", "random", "--seconds", "0.3", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["profile"], r["backend"]) for r in rows] == [
        ("fast", "onnxruntime"),
        ("fast", "torch"),
    ]
    for r in rows:
        assert r["runs"] >= 3
        assert r["model_p95_ms"] >= r["model_p50_ms"] > 0
        assert r["input"] == "320x240"
        assert r["fps"] > 0
        assert r["load_s"] >= 0
        assert r["switch_s"] >= 0
    assert rows[0]["torch_over_ort"] == pytest.approx(
        rows[1]["model_p50_ms"] / rows[0]["model_p50_ms"], rel=0.01
    )


def test_bench_table(capsys):
    code = main(
        [
            "bench",
            "--profile",
            "fast",
            "--backend",
            "onnxruntime",
            "--weights",
            "random",
            "--seconds",
            "0.2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "model p50" in out
    assert "onnxruntime" in out
    assert "untrained" in out


def test_bench_person_exits_0_a_row_that_does_not_apply_is_no_failure(capsys):
    # The default backends on a CPU add torch for the ratio; person has no torch network.
    code = main(["bench", "--profile", "person", "--backend", "onnxruntime", "--backend",
                 "torch", "--seconds", "0.2"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    header, _rule, row, *rest = out.splitlines()
    for unit in ("model p50 ms", "p95 ms", "decode ms", "other %", "mem MB", "torch/ORT"):
        assert unit in header
    assert row.split()[:2] == ["person", "onnxruntime"]
    legend = " ".join(rest)
    assert "other %: all the non-model work as a share of the model's time" in legend
    assert "torch/ORT: torch eager model time over ONNX Runtime's" in legend
    assert "person / torch: not run: this profile ships ONNX graphs" in out
    assert "error" not in out


def test_bench_reports_a_backend_that_cannot_run(capsys):
    code = main(
        [
            "bench",
            "--profile",
            "fast",
            "--backend",
            "tensorrt",
            "--weights",
            "random",
            "--seconds",
            "0.2",
        ]
    )
    assert code == 1
    assert "fast / tensorrt: error: " in capsys.readouterr().out


def test_download_rejects_unknown_profiles(capsys):
    assert main(["download", "turbo"]) == 2
    assert "fast, balanced, accurate" in capsys.readouterr().err


def test_download_offline_fails_with_the_fixes(tmp_path, monkeypatch, capsys):
    from segwidget import weights

    monkeypatch.setattr(weights, "HF_HOST", "huggingface.invalid")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    code = main(["download", "accurate", "--cache-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "segwidget download" in err
    assert str(tmp_path) in err
