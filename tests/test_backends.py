"""Backend choice by hardware (tested with made-up hardware), ONNX export cache and parity."""

import os

import numpy as np
import pytest
import torch

from segwidget import BackendUnavailableError, Engine
from segwidget.backends.onnx_backend import providers_for
from segwidget.backends.tensorrt_backend import shape_range
from segwidget.hardware import Hardware, choose_backend, detect
from segwidget.profiles import PROFILES, input_hw

# Profiles built from a torch network (the person profile ships ONNX graphs: test_person.py).
TORCH_PROFILES = [name for name, p in PROFILES.items() if not p.shipped]

CPU = Hardware(cuda=False, ort_providers=("CPUExecutionProvider",))
CPU_NO_ORT = Hardware(cuda=False)
GPU_TRT = Hardware(
    cuda=True,
    cuda_name="NVIDIA T4",
    ort_providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
    tensorrt="10.3.0",
)
GPU_ORT = Hardware(
    cuda=True,
    cuda_name="NVIDIA T4",
    ort_providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
)
GPU_BARE = Hardware(cuda=True, cuda_name="NVIDIA T4", ort_providers=("CPUExecutionProvider",))


@pytest.mark.parametrize(
    ("hw", "expected", "reason_part"),
    [
        (GPU_TRT, ("tensorrt", "cuda", "fp16"), "TensorRT 10.3.0"),
        (GPU_ORT, ("onnxruntime", "cuda", "fp16"), "TensorRT not installed"),
        (GPU_BARE, ("torch", "cuda", "fp16"), "no TensorRT or onnxruntime-gpu"),
        (CPU, ("onnxruntime", "cpu", "fp32"), "no CUDA GPU found"),
        (CPU_NO_ORT, ("torch", "cpu", "fp32"), "onnxruntime not installed"),
    ],
)
def test_auto_choice_follows_the_hardware(hw, expected, reason_part):
    choice = choose_backend("auto", "auto", hw)
    assert (choice.backend, choice.device, choice.precision) == expected
    assert reason_part in choice.reason


def test_cpu_device_on_a_gpu_machine_uses_onnxruntime_cpu():
    choice = choose_backend("auto", "cpu", GPU_TRT)
    assert (choice.backend, choice.device, choice.precision) == ("onnxruntime", "cpu", "fp32")


@pytest.mark.parametrize(
    ("backend", "device", "hw", "missing"),
    [
        ("tensorrt", "auto", CPU, "needs a CUDA GPU"),
        ("tensorrt", "auto", GPU_ORT, "pip install 'segwidget[gpu]'"),
        ("onnxruntime", "cuda", GPU_BARE, "onnxruntime-gpu"),
        ("onnxruntime", "auto", CPU_NO_ORT, "pip install onnxruntime"),
        ("torch", "cuda", CPU, "no CUDA GPU"),
    ],
)
def test_a_requested_backend_that_cannot_run_names_what_is_missing(backend, device, hw, missing):
    with pytest.raises(BackendUnavailableError) as info:
        choose_backend(backend, device, hw)
    assert missing in str(info.value)


def test_onnxruntime_requested_on_a_gpu_without_its_gpu_provider_runs_on_the_cpu():
    # device "auto" means where the requested backend can run; "cuda" insists (and raises)
    choice = choose_backend("onnxruntime", "auto", GPU_BARE)
    assert (choice.backend, choice.device, choice.precision) == ("onnxruntime", "cpu", "fp32")
    assert "onnxruntime-gpu is not installed" in choice.reason


def test_requested_backends_run_where_they_can():
    assert choose_backend("torch", "auto", GPU_TRT).backend == "torch"
    assert choose_backend("onnxruntime", "auto", GPU_TRT).precision == "fp16"
    assert choose_backend("torch", "cpu", GPU_TRT).precision == "fp32"


@pytest.mark.parametrize(("kind", "value"), [("backend", "tflite"), ("device", "tpu")])
def test_unknown_names_list_the_valid_ones(kind, value):
    with pytest.raises(ValueError, match="expected one of") as info:
        choose_backend(**{kind: value}, hw=CPU)
    assert "auto" in str(info.value)


def test_engine_rejects_unknown_backend_listing_names():
    with pytest.raises(ValueError, match="auto, torch, onnxruntime, tensorrt"):
        Engine("fast", weights="random", backend="openvino")


def test_onnxruntime_providers_prefer_tensorrt_then_cuda(tmp_path):
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    chosen = providers_for("cuda", available, tmp_path / "trt")
    assert [p if isinstance(p, str) else p[0] for p in chosen] == available
    assert chosen[0][1]["trt_fp16_enable"] is True
    assert chosen[0][1]["trt_engine_cache_path"] == str(tmp_path / "trt")
    assert providers_for("cpu", available, tmp_path) == ["CPUExecutionProvider"]


@pytest.mark.parametrize("profile", TORCH_PROFILES)
def test_tensorrt_shape_range_covers_every_aspect(profile):
    p = PROFILES[profile]
    lo, opt, hi = shape_range(p)
    for h, w in [(480, 640), (720, 1280), (640, 480), (1080, 1920), (1000, 1000)]:
        mh, mw = input_hw(h, w, p.gpu_size, p.multiple)
        assert lo[2] <= mh <= hi[2]
        assert lo[3] <= mw <= hi[3]
    assert opt[2:] == input_hw(480, 640, p.gpu_size, p.multiple)


def test_detect_reports_this_machine():
    hw = detect()
    assert hw.cuda == torch.cuda.is_available()
    assert "CPUExecutionProvider" in hw.ort_providers


def test_onnx_export_is_cached_and_reused(tmp_path):
    first = Engine("fast", weights="random", backend="onnxruntime", cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.onnx"))
    assert len(files) == 1
    assert first.info["backend"] == "onnxruntime"
    mtime = os.stat(files[0]).st_mtime_ns
    Engine("fast", weights="random", backend="onnxruntime", cache_dir=tmp_path)
    assert sorted(tmp_path.glob("*.onnx")) == files
    assert os.stat(files[0]).st_mtime_ns == mtime  # reused, not rewritten
    # A different input size reuses the same (dynamic-shape) export.
    Engine("fast", weights="random", backend="onnxruntime", cache_dir=tmp_path, input_size=256)
    assert sorted(tmp_path.glob("*.onnx")) == files


def test_export_key_depends_on_weights_and_precision():
    from segwidget.export import export_key

    p = PROFILES["fast"]
    keys = {
        export_key(p, "random-seed0", "fp32"),
        export_key(p, "random-seed0", "fp16"),
        export_key(p, "torchvision:X", "fp32"),
        export_key(PROFILES["balanced"], "random-seed0", "fp32"),
    }
    assert len(keys) == 4


@pytest.mark.parametrize("profile", TORCH_PROFILES)
def test_onnxruntime_agrees_with_torch_eager(profile, photos):
    # the export against the network it came from, on one device (a GPU machine would
    # otherwise run eager torch on CUDA at the GPU's input size)
    ort = Engine(profile, weights="random", backend="onnxruntime", device="cpu")
    eager = Engine(profile, weights="random", backend="torch", device="cpu")
    assert ort.info["backend"] == "onnxruntime"
    assert eager.info["backend"] == "torch"
    for name, photo in photos.items():
        a, b = ort.segment(photo).mask, eager.segment(photo).mask
        assert a.shape == b.shape
        assert len(np.unique(b)) >= 2, f"{name}: a one-class mask would make parity trivial"
        agreement = (a == b).mean()
        assert agreement >= 0.999, f"{profile}/{name}: {agreement:.5f}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("profile", TORCH_PROFILES)
def test_fp16_gpu_agrees_with_fp32(profile, photos):
    fp32 = Engine(profile, weights="random", backend="torch", device="cpu")
    fp16 = Engine(profile, weights="random", device="cuda")
    assert fp16.info["precision"] == "fp16"
    for photo in photos.values():
        a, b = fp16.segment(photo).mask, fp32.segment(photo).mask
        if a.shape != b.shape:  # GPU default size differs: compare at the same size
            b = (
                Engine(
                    profile,
                    weights="random",
                    backend="torch",
                    device="cpu",
                    input_size=fp16.input_size,
                )
                .segment(photo)
                .mask
            )
        assert (a == b).mean() >= 0.99
