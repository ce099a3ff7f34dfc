"""ONNX Runtime: CPU execution provider, or TensorRT / CUDA providers on a GPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Machines with at most this many cores share them between ORT, the browser and the kernel.
FEW_CORES = 4


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
        if device != "cuda" and (os.cpu_count() or 1) <= FEW_CORES:
            # Idle ORT threads spin by default, burning cores that the browser, the server
            # loop and the kernel share with them on a small machine: on 2 cores the whole
            # JupyterLab loop measured 1.11x the FPS, 0.69x the p95 latency and 67 % vs 112 %
            # of a core in the kernel without spinning (docs/PERFORMANCE.md), although the
            # model alone, with the cores free, is slower without it (17 vs 10 ms).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        trt_cache = (cache_dir or path.parent) / "ort-trt"
        self.session = ort.InferenceSession(
            str(path),
            opts,
            providers=providers_for(device, ort.get_available_providers(), trt_cache),
        )
        self.providers = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        on_gpu = self.providers[0] != "CPUExecutionProvider"
        self._binding = self.session.io_binding() if on_gpu else None
        self._device_inputs: dict[tuple[int, ...], object] = {}

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._binding is None:
            return tuple(self.session.run(None, {self.input: x}))
        return self._run_bound(x)

    def _run_bound(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """GPU: IO binding with a pre-allocated device input per shape (a webcam keeps one;
        a replica one per bucket and batch size), so only the uint8 frames go up and only
        the uint8 outputs come back."""
        import onnxruntime as ort

        buf = self._device_inputs.get(x.shape)
        if buf is None:
            buf = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
            self._device_inputs[x.shape] = buf
        else:
            buf.update_inplace(x)
        self._binding.bind_ortvalue_input(self.input, buf)
        for name in self.outputs:
            self._binding.bind_output(name, "cuda", 0)
        self.session.run_with_iobinding(self._binding)
        return tuple(self._binding.copy_outputs_to_cpu())
