"""What this machine can run, and the one place that picks a backend for it (design decision
9 in docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import logging
import sys
from dataclasses import dataclass, field, replace

from .errors import BackendUnavailableError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")
DEVICES = ("auto", "cpu", "cuda")

#: ONNX Runtime over torch eager on a CPU, model time at the CPU default sizes, from the latest
#: quiet `segwidget bench` run here (fast 2.95x, balanced 1.49x, accurate 1.97x). The one
#: place this figure lives: the engine's backend reason and the README both show it.
ONNX_RUNTIME_CPU_SPEEDUP = "1.5-3x"


@dataclass(frozen=True)
class Hardware:
    """Facts that decide the backend. Built by :func:`detect`; tests build their own."""

    cuda: bool = False
    cuda_name: str | None = None
    ort_providers: tuple[str, ...] = ()
    tensorrt: str | None = None  # version of the tensorrt package, if importable
    notes: tuple[str, ...] = field(default=())


@functools.lru_cache(maxsize=1)
def detect() -> Hardware:
    """Probe the CUDA driver, torch, onnxruntime and tensorrt once per process.

    torch (about 500 MB resident) is imported only where a CUDA driver reports a GPU, or
    when something already imported it: a CPU machine running a cached ONNX export never
    needs it.
    """
    notes = []
    cuda, name = False, None
    gpus = cuda_driver_devices()
    if gpus == 0 and "torch" not in sys.modules:
        notes.append("no CUDA driver or GPU found")
    else:
        try:
            import torch

            cuda = torch.cuda.is_available()
            name = torch.cuda.get_device_name(0) if cuda else None
            if not cuda:
                notes.append("torch sees no CUDA device")
        except Exception as exc:  # a broken CUDA install must not stop CPU use
            notes.append(f"CUDA probe failed: {exc}")
    providers: tuple[str, ...] = ()
    try:
        import onnxruntime as ort

        providers = tuple(ort.get_available_providers())
    except ImportError:
        notes.append("onnxruntime is not installed")
    trt = None
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            import tensorrt

            trt = tensorrt.__version__
        except Exception as exc:
            notes.append(f"tensorrt import failed: {exc}")
    return Hardware(cuda, name, providers, trt, tuple(notes))


def cuda_driver_devices() -> int:
    """How many GPUs the CUDA driver library reports (0 without a driver), without torch."""
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    found = ctypes.util.find_library("cuda")
    for lib in [*names, *([found] if found else [])]:
        try:
            driver = ctypes.CDLL(lib)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # "torch" | "onnxruntime" | "tensorrt"
    device: str  # "cpu" | "cuda"
    precision: str  # "fp32" | "fp16"
    reason: str


def choose_backend(
    backend: str = "auto",
    device: str = "auto",
    hw: Hardware | None = None,
    torch_network: bool = True,
):
    """Pick backend, device and precision for the hardware and say why.

    CUDA: TensorRT > ONNX Runtime (TensorRT / CUDA execution provider, FP16) > torch FP16.
    CPU: ONNX Runtime > torch. A requested backend or device that cannot run raises
    :class:`BackendUnavailableError` naming what is missing.

    ``torch_network=False`` (a profile that ships ONNX graphs and has no torch module):
    torch is never chosen; a request for it falls back to what ``"auto"`` picks, saying so.
    """
    if not torch_network:
        return _choose_without_torch(backend, device, hw)
    return _choose(backend, device, hw)


def _choose_without_torch(backend: str, device: str, hw: Hardware | None) -> BackendChoice:
    note = ""
    if backend == "torch":
        note = "torch requested, but this profile ships ONNX graphs and has no torch network; "
        backend = "auto"
    choice = _choose(backend, device, hw)
    if choice.backend != "torch":
        return replace(choice, reason=note + choice.reason) if note else choice
    hw = hw if hw is not None else detect()
    cpu_ort = "CPUExecutionProvider" in hw.ort_providers
    if choice.device != "cuda" or device == "cuda" or not cpu_ort:
        raise BackendUnavailableError(
            "this profile ships ONNX graphs (no torch network) and needs ONNX Runtime"
            + (
                " with a GPU provider or TensorRT on CUDA (pip install 'segwidget[gpu]')"
                if device == "cuda"
                else " (pip install onnxruntime)"
            )
        )
    return BackendChoice(
        "onnxruntime",
        "cpu",
        "fp32",
        note + "auto: no TensorRT or onnxruntime-gpu for the GPU and this profile has no "
        "torch network: ONNX Runtime on CPU, FP32",
    )


def _choose(backend: str, device: str, hw: Hardware | None) -> BackendChoice:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    hw = hw if hw is not None else detect()
    ort_gpu = any(
        p in hw.ort_providers for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
    )

    if device == "cuda" and not hw.cuda:
        raise BackendUnavailableError(
            "device='cuda' was requested but torch sees no CUDA GPU "
            "(install a CUDA build of torch and a driver, or use device='cpu' / 'auto')"
        )
    use_cuda = hw.cuda if device == "auto" else device == "cuda"
    dev = "cuda" if use_cuda else "cpu"
    where = f"CUDA GPU ({hw.cuda_name})" if use_cuda else "CPU"
    no_gpu = "" if use_cuda else (" (no CUDA GPU found)" if device == "auto" else "")

    if backend == "tensorrt":
        if not use_cuda:
            raise BackendUnavailableError("backend='tensorrt' needs a CUDA GPU; none is in use")
        if not hw.tensorrt:
            raise BackendUnavailableError(
                "backend='tensorrt' needs the tensorrt package: pip install 'segwidget[gpu]'"
            )
        return BackendChoice("tensorrt", dev, "fp16", f"requested; TensorRT {hw.tensorrt} FP16")
    if backend == "onnxruntime":
        if not hw.ort_providers:
            raise BackendUnavailableError("backend='onnxruntime' needs: pip install onnxruntime")
        if use_cuda and not ort_gpu:
            if device == "cuda":
                raise BackendUnavailableError(
                    "backend='onnxruntime' on CUDA needs onnxruntime-gpu "
                    "(pip install 'segwidget[gpu]'); or use device='cpu'"
                )
            # device "auto": the CPU is where this backend can run here
            return BackendChoice(
                "onnxruntime",
                "cpu",
                "fp32",
                f"requested; {where} present but onnxruntime-gpu is not installed "
                "(pip install 'segwidget[gpu]'): ONNX Runtime on CPU, FP32",
            )
        prec = "fp16" if use_cuda else "fp32"
        return BackendChoice("onnxruntime", dev, prec, f"requested; on {where}, {prec.upper()}")
    if backend == "torch":
        prec = "fp16" if use_cuda else "fp32"
        return BackendChoice("torch", dev, prec, f"requested; torch eager on {where}, {prec}")

    # auto
    if use_cuda:
        if hw.tensorrt:
            return BackendChoice(
                "tensorrt", dev, "fp16", f"auto: {where} with TensorRT {hw.tensorrt}, FP16"
            )
        if ort_gpu:
            return BackendChoice(
                "onnxruntime",
                dev,
                "fp16",
                f"auto: {where}; TensorRT not installed, ONNX Runtime GPU provider, FP16",
            )
        return BackendChoice(
            "torch", dev, "fp16", f"auto: {where}; no TensorRT or onnxruntime-gpu, torch FP16"
        )
    if "CPUExecutionProvider" in hw.ort_providers:
        return BackendChoice(
            "onnxruntime",
            dev,
            "fp32",
            f"auto: CPU{no_gpu}; ONNX Runtime is {ONNX_RUNTIME_CPU_SPEEDUP} faster than torch "
            "eager on CPU",
        )
    return BackendChoice("torch", dev, "fp32", f"auto: CPU{no_gpu}; onnxruntime not installed")
