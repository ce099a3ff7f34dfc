"""Inference backends. Each takes a uint8 ``N x 3 x H x W`` RGB batch (one input size) and
returns its outputs in one call: the uint8 ``N x H x W`` class-index masks first, then, where
the graph has one, the uint8 ``N x H x W`` confidence. A backend with a hard batch limit
(TensorRT engines: their optimisation profile) says so in ``max_batch``; the others take any
batch. :func:`create` builds the one a :class:`BackendChoice` names."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..hardware import BackendChoice
from ..profiles import Profile
from ..weights_ref import WeightsRef

Backend = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def create(
    choice: BackendChoice,
    profile: Profile,
    weights: str | os.PathLike,
    ref: WeightsRef,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
    max_batch: int = 1,
) -> Backend:
    """Build the chosen backend for ``weights`` (resolved as ``ref``); ``sample_hw`` shapes
    export and warm-up; ``max_batch``: the largest batch a TensorRT engine is built for.

    An ONNX export already on disk is used as it is: torch is imported, and the network
    built, only for the torch backend or to export. Shipped graphs (``ref.graphs``, one per
    fixed input size) are never exported: one backend runs each.
    """
    if ref.graphs:
        from ..export import exports_dir
        from .shipped import ShapeDispatch

        cache = exports_dir(cache_dir)  # engine caches go here, never next to the package
        return ShapeDispatch(
            {
                hw: _onnx_backend(choice, profile, path, cache, max_batch, hw)
                for hw, path in ref.graphs.items()
            }
        )
    if choice.backend == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(_network(profile, weights), choice.device, choice.precision)
    from ..export import export_onnx, export_path, usable_export

    onnx_path = export_path(profile, ref.identity, choice.precision, cache_dir)
    if not usable_export(onnx_path):
        net = _network(profile, weights)
        onnx_path = export_onnx(net, profile, ref.identity, choice, sample_hw, cache_dir)
    return _onnx_backend(choice, profile, onnx_path, cache_dir, max_batch, None)


def _onnx_backend(
    choice: BackendChoice,
    profile: Profile,
    path: Path,
    cache_dir: Path | None,
    max_batch: int,
    fixed_hw: tuple[int, int] | None,
) -> Backend:
    if choice.backend == "onnxruntime":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(path, choice.device, choice.precision, cache_dir)
    if choice.backend != "tensorrt":
        raise ValueError(f"backend {choice.backend!r} cannot run an ONNX file")
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(path, profile, choice.precision, cache_dir, fixed_hw, max_batch)


def _network(profile: Profile, weights: str | os.PathLike):
    """The export-friendly torch network with ``weights`` loaded (imports torch)."""
    from ..weights import SegmentationNet, load_weights

    loaded = load_weights(profile, weights)
    return SegmentationNet(loaded.module, profile.family).eval()
