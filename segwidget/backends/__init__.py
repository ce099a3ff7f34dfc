"""Inference backends. Each takes a uint8 ``1 x 3 x H x W`` RGB array and returns the uint8
``H x W`` class-index mask; :func:`create` builds the one a :class:`BackendChoice` names."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..hardware import BackendChoice
from ..profiles import Profile
from ..weights_ref import WeightsRef

Backend = Callable[[np.ndarray], np.ndarray]


def create(
    choice: BackendChoice,
    profile: Profile,
    weights: str | os.PathLike,
    ref: WeightsRef,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
) -> Backend:
    """Build the chosen backend for ``weights`` (resolved as ``ref``); ``sample_hw`` shapes
    export and warm-up.

    An ONNX export already on disk is used as it is: torch is imported, and the network
    built, only for the torch backend or to export.
    """
    if choice.backend == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(_network(profile, weights), choice.device, choice.precision)
    from ..export import export_onnx, export_path, usable_export

    onnx_path = export_path(profile, ref.identity, choice.precision, cache_dir)
    if not usable_export(onnx_path):
        net = _network(profile, weights)
        onnx_path = export_onnx(net, profile, ref.identity, choice, sample_hw, cache_dir)
    if choice.backend == "onnxruntime":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(onnx_path, choice.device, choice.precision, cache_dir)
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(onnx_path, profile, choice.precision, cache_dir)


def _network(profile: Profile, weights: str | os.PathLike):
    """The export-friendly torch network with ``weights`` loaded (imports torch)."""
    from ..weights import SegmentationNet, load_weights

    loaded = load_weights(profile, weights)
    return SegmentationNet(loaded.module, profile.family).eval()
