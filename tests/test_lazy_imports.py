"""The cached-ONNX path starts without torch: about 500 MB of a small machine's memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from segwidget.hardware import cuda_driver_devices
from tests.conftest import ROOT

PROBE = """
import json, sys
from segwidget import Engine, SegWidget
engine = Engine("fast", weights="random", backend="onnxruntime")
SegWidget  # the widget module's imports count too
heavy = [m for m in ("torch", "torchvision", "transformers", "onnx") if m in sys.modules]
print(json.dumps({"backend": engine.info["backend"], "heavy": heavy}))
"""


def _probe() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", PROBE]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    cuda_driver_devices() > 0, reason="a CUDA driver reports a GPU: torch confirms CUDA here"
)
def test_cached_onnx_engine_does_not_import_torch(fast_engine):
    # fast_engine (same profile, weights and cache) guarantees the export is on disk.
    assert fast_engine.info["backend"] == "onnxruntime"
    got = _probe()
    assert got == {"backend": "onnxruntime", "heavy": []}


def test_describe_weights_matches_what_load_weights_reports(tmp_path):
    import torch

    from segwidget.profiles import PROFILES
    from segwidget.weights import build_architecture, load_weights
    from segwidget.weights_ref import describe_weights

    p = PROFILES["fast"]
    path = tmp_path / "w.pth"
    torch.save(build_architecture(p).state_dict(), path)
    for weights in ("random", path):
        ref, loaded = describe_weights(p, weights), load_weights(p, weights)
        assert (ref.identity, ref.description, ref.pretrained) == (
            loaded.identity,
            loaded.description,
            loaded.pretrained,
        )


def test_cuda_driver_probe_counts_gpus_without_torch(monkeypatch):
    import ctypes

    from segwidget import hardware

    class Driver:
        def __init__(self, init_rc=0, count=2):
            self.init_rc, self.count = init_rc, count

        def cuInit(self, flags):  # noqa: N802 - the driver's own name
            return self.init_rc

        def cuDeviceGetCount(self, ref):  # noqa: N802
            ref._obj.value = self.count
            return 0

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert hardware.cuda_driver_devices() == 0
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Driver())
    assert hardware.cuda_driver_devices() == 2
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Driver(init_rc=100))  # no device
    assert hardware.cuda_driver_devices() == 0


NO_MODELS_EXTRA = """
import importlib.abc, json, sys
import numpy as np

BLOCKED = ("torch", "torchvision", "transformers", "onnx")

class Blocker(importlib.abc.MetaPathFinder):  # the base install: no segwidget[models]
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Blocker())
from segwidget import Engine, SegWidget
from segwidget.errors import SegwidgetError

frame = np.zeros((480, 640, 3), np.uint8)
frame[100:400, 200:440] = (200, 160, 140)
person = Engine("person")
res = person.segment(frame)
out = {"person_mask": list(res.mask.shape), "person_backend": person.info["backend"]}
try:
    Engine("fast", weights="random")
except SegwidgetError as exc:
    out.update(code=exc.code, message=str(exc), recoverable=exc.recoverable)
SegWidget  # the widget module's imports count too
out["heavy"] = [m for m in BLOCKED if m in sys.modules]
print(json.dumps(out))
"""


def test_without_the_models_extra_person_runs_and_fast_says_how_to_install():
    """The base install (no torch, torchvision, transformers or onnx): ``person`` segments;
    ``fast`` fails at once with the extra's install command and the CPU-only wheels hint."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", NO_MODELS_EXTRA]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["person_mask"][0] > 0
    assert got["person_backend"] == "onnxruntime"
    assert got["heavy"] == []
    assert got["code"] == "MODELS_NOT_INSTALLED"
    assert got["recoverable"] is False
    assert "pip install 'segwidget[models]'" in got["message"]
    assert "--index-url https://download.pytorch.org/whl/cpu" in got["message"]
    assert "needs torch, torchvision, onnx" in got["message"]
    assert "The 'person' profile runs without it" in got["message"]
