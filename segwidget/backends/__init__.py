"""Inference backends. Each takes a uint8 ``1 x 3 x H x W`` RGB array and returns the uint8
``H x W`` class-index mask; :func:`create` builds the one a :class:`BackendChoice` names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..hardware import BackendChoice
from ..profiles import Profile
from ..weights import LoadedWeights, SegmentationNet

Backend = Callable[[np.ndarray], np.ndarray]


def create(
    choice: BackendChoice,
    profile: Profile,
    loaded: LoadedWeights,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
) -> Backend:
    """Build the chosen backend for ``loaded`` weights; ``sample_hw`` shapes export and warm-up."""
    net = SegmentationNet(loaded.module, profile.family).eval()
    if choice.backend == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(net, choice.device, choice.precision)
    from ..export import export_onnx

    onnx_path = export_onnx(net, profile, loaded.identity, choice, sample_hw, cache_dir)
    if choice.backend == "onnxruntime":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(onnx_path, choice.device, choice.precision, cache_dir)
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(onnx_path, profile, choice.precision, cache_dir)
