"""Native TensorRT (10.x API): an FP16 engine built from the ONNX export and cached on disk.

The engine has one optimisation profile covering every input shape the profile can produce
(long side up to ``gpu_size`` at any aspect) and every batch from 1 to ``max_batch`` (a
cluster replica runs a shape bucket as one batch; a local engine only ever runs 1), so a
change of camera aspect or batch size needs no rebuild; a shipped graph with a fixed input
size gets exactly that size. Buffers are torch CUDA tensors, so no extra CUDA Python bindings
are needed.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from ..cache_files import discard, is_intact, write_with_digest
from ..profiles import Profile

log = logging.getLogger(__name__)


def shape_range(
    profile: Profile, max_batch: int = 1, fixed_hw: tuple[int, int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) input shapes of the TensorRT optimisation profile: batches 1 to
    ``max_batch`` (tuned for a full one, what a busy replica runs), and any size up to the
    profile's ``gpu_size`` or exactly ``fixed_hw`` (a shipped graph's input)."""
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"max_batch must be an integer >= 1, got {max_batch!r}")
    if fixed_hw is not None:
        return (1, 3, *fixed_hw), (max_batch, 3, *fixed_hw), (max_batch, 3, *fixed_hw)
    m, side = profile.multiple, profile.gpu_size
    opt_short = round(side * 3 / 4 / m) * m  # 4:3 webcams are the common case
    return (1, 3, m * 4, m * 4), (max_batch, 3, opt_short, side), (max_batch, 3, side, side)


Shapes = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def build_engine(onnx_path: Path, shapes: Shapes, precision: str, engine_path: Path) -> bytes:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 4 << 30)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    opt_profile = builder.create_optimization_profile()
    lo, opt, hi = shapes
    opt_profile.set_shape(network.get_input(0).name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
    data = bytes(serialized)
    write_with_digest(engine_path, data, "the TensorRT engine")
    return data


class TensorRTBackend:
    name = "tensorrt"

    def __init__(
        self,
        onnx_path: Path,
        profile: Profile,
        precision: str,
        cache_dir: Path | None,
        fixed_hw: tuple[int, int] | None = None,
        max_batch: int = 1,
    ):
        import tensorrt as trt

        shapes = shape_range(profile, max_batch, fixed_hw)
        self.max_batch = max_batch  # the engine runs no larger batch: Engine splits them
        # A shipped file keeps its name across versions: its content identifies it.
        ident = hashlib.sha256(onnx_path.read_bytes()).hexdigest() if fixed_hw else ""
        key = hashlib.sha256(
            f"{onnx_path.name}|{ident}|{shapes}|{precision}|{trt.__version__}|"
            f"{torch.cuda.get_device_name(0)}".encode()
        ).hexdigest()[:16]
        stem = f"{profile.name}-{onnx_path.stem}" if fixed_hw else profile.name
        engine_path = (cache_dir or onnx_path.parent) / f"{stem}-{precision}-{key}.engine"
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = None
        if is_intact(engine_path, adopt=lambda p: True):  # TensorRT checks what it loads
            self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
            if self.engine is None:
                log.warning("discarding the unreadable TensorRT engine %s", engine_path)
                discard(engine_path)
        elif engine_path.exists():
            log.warning("discarding the incomplete TensorRT engine %s", engine_path)
            discard(engine_path)
        if self.engine is None:
            log.info("building TensorRT engine %s (first run only)", engine_path)
            data = build_engine(onnx_path, shapes, precision, engine_path)
            self.engine = runtime.deserialize_cuda_engine(data)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.input_name = inputs[0]
        self.output_names = [n for n in names if n not in inputs]  # mask first, as exported
        self.stream = torch.cuda.Stream()
        self._buffers: dict[tuple[int, ...], tuple[torch.Tensor, list[torch.Tensor]]] = {}

    def _io(self, n: int, h: int, w: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Pre-allocated device buffers per batch and input size (a webcam keeps one, a
        replica a few); every output is uint8 ``N x H x W``."""
        if (n, h, w) not in self._buffers:
            inp = torch.empty((n, 3, h, w), dtype=torch.uint8, device="cuda")
            outs = [
                torch.empty((n, h, w), dtype=torch.uint8, device="cuda") for _ in self.output_names
            ]
            self._buffers[(n, h, w)] = (inp, outs)
        return self._buffers[(n, h, w)]

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        n, _, h, w = x.shape
        if n > self.max_batch:
            raise ValueError(f"a batch of {n} exceeds this TensorRT engine's {self.max_batch}")
        inp, outs = self._io(n, h, w)
        with torch.cuda.stream(self.stream):
            inp.copy_(torch.from_numpy(x), non_blocking=True)
            self.context.set_input_shape(self.input_name, (n, 3, h, w))
            self.context.set_tensor_address(self.input_name, inp.data_ptr())
            for name, out in zip(self.output_names, outs, strict=True):
                self.context.set_tensor_address(name, out.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            results = [out.cpu() for out in outs]
        return tuple(r.numpy() for r in results)
