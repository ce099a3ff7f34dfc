"""ONNX Runtime: CPU execution provider, or TensorRT / CUDA providers on a GPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def providers_for(device: str, available: list[str], trt_cache: Path) -> list:
    """Execution providers in order of preference for ``device``."""
    if device != "cuda":
        return ["CPUExecutionProvider"]
    chosen: list = []
    if "TensorrtExecutionProvider" in available:
        trt_cache.mkdir(parents=True, exist_ok=True)
        chosen.append(
            (
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(trt_cache),
                },
            )
        )
    if "CUDAExecutionProvider" in available:
        chosen.append(("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
    return [*chosen, "CPUExecutionProvider"]


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, path: Path, device: str, precision: str, cache_dir: Path | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = os.cpu_count() or 1
        trt_cache = (cache_dir or path.parent) / "ort-trt"
        self.session = ort.InferenceSession(
            str(path),
            opts,
            providers=providers_for(device, ort.get_available_providers(), trt_cache),
        )
        self.providers = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0][0]
