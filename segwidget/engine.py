"""The inference engine: profile -> weights -> backend -> :class:`SegResult`."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import backends
from .gpu_memory import run_with_oom_retry
from .hardware import choose_backend
from .labels import ADE20K_CLASSES, PALETTES, PERSON_CLASSES, VOC_CLASSES
from .postprocess import class_fractions, upsample_mask
from .preprocess import DEFAULT_MAX_SIDE, decode_jpeg, resize, to_nchw, validate_frame
from .profiles import Profile, get_profile
from .weights_ref import describe_weights, require_model_packages

log = logging.getLogger(__name__)

LABELS = {"voc": VOC_CLASSES, "ade20k": ADE20K_CLASSES, "person": PERSON_CLASSES}


@dataclass
class SegResult:
    """One segmented frame."""

    mask: np.ndarray  # uint8 H x W class indices at model resolution (aspect kept, or a
    # shipped model's fixed size: mask_at stretches it back to the frame)
    class_ids: list[tuple[int, float]]  # (class index, pixel fraction), largest first
    labels: list[str]
    timings: dict[str, float]  # milliseconds per stage
    frame: np.ndarray | None = None  # the RGB frame that was segmented
    profile: str = ""
    extra: dict = field(default_factory=dict)
    #: uint8 H x W, same shape as ``mask``: the model's confidence in the pixel's class
    #: (person profile: the person probability x 255, and mask == confidence >= 128);
    #: None where the profile's graph gives none.
    confidence: np.ndarray | None = None

    @property
    def classes(self) -> list[tuple[str, float]]:
        """Detected classes as ``(name, pixel fraction)``, largest first."""
        return [(self.labels[i], f) for i, f in self.class_ids]

    def mask_at(self, height: int, width: int) -> np.ndarray:
        """The mask upsampled (nearest neighbour) to ``height x width``, e.g. the frame size."""
        return upsample_mask(self.mask, height, width)


class Engine:
    """Segments RGB frames with one profile. Thread-safe: one inference at a time.

    ``weights``: "pretrained", "random" or a path. ``backend``: "auto", "torch",
    "onnxruntime" or "tensorrt". ``device``: "auto", "cpu" or "cuda". ``input_size``:
    the model's long side (default: the profile's GPU or CPU size).

    A profile with shipped models (``person``) always runs them: ``weights="random"`` and
    ``input_size`` do not apply (``info`` says so), and ``backend="torch"`` falls back to
    ONNX Runtime or TensorRT with the reason in ``info["backend_reason"]``.

    ``max_batch``: the largest batch :meth:`infer_batch` runs as one call where the backend
    has a limit (TensorRT engines are built for batches 1 to ``max_batch``; a cluster replica
    passes its Serve batch size, a local engine only runs single frames).
    """

    def __init__(
        self,
        profile: str = "fast",
        weights: str | os.PathLike = "pretrained",
        backend: str = "auto",
        device: str = "auto",
        input_size: int | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        cache_dir: str | os.PathLike | None = None,
        max_batch: int = 1,
    ):
        t0 = time.perf_counter()
        if not isinstance(max_batch, int) or not 1 <= max_batch <= 256:
            raise ValueError(f"max_batch must be an int from 1 to 256, got {max_batch!r}")
        self.profile: Profile = get_profile(profile)
        require_model_packages(self.profile)  # fail at once, with the install command
        shipped = bool(self.profile.shipped)
        choice = choose_backend(backend, device, torch_network=not shipped)
        default_size = self.profile.gpu_size if choice.device == "cuda" else self.profile.cpu_size
        requested = input_size
        if input_size is None or shipped:
            input_size = default_size
        if not isinstance(input_size, int) or not 32 <= input_size <= 2048:
            raise ValueError(f"input_size must be an int from 32 to 2048, got {input_size!r}")
        self.input_size = input_size
        self.max_side = max_side
        self.labels: list[str] = list(LABELS[self.profile.dataset])
        self.palette: np.ndarray = PALETTES[self.profile.default_colormap]
        self._lock = threading.Lock()
        #: Backend calls so far (a batch run as one tensor is one call): replicas' stats.
        self.model_calls = 0

        ref = describe_weights(self.profile, weights)
        sample = self.model_hw(3, 4)
        cache = Path(cache_dir) if cache_dir is not None else None
        self._run = backends.create(choice, self.profile, weights, ref, sample, cache, max_batch)
        #: Frames one backend call takes at most (None: any number).
        self.batch_limit: int | None = getattr(self._run, "max_batch", None)
        for hw in ref.graphs or [sample]:  # warm-up: first call allocates
            self._run(np.zeros((1, 3, *hw), np.uint8))
        self.load_ms = (time.perf_counter() - t0) * 1000
        if shipped:
            sizes = ", ".join(f"{m.width}x{m.height}" for m in self.profile.shipped)
            size_reason = f"fixed by the shipped models ({sizes}, picked by frame aspect)"
            if requested is not None:
                size_reason += f"; input_size={requested!r} does not apply"
        elif requested is not None and requested != default_size:
            size_reason = "requested"
        else:
            size_reason = "GPU default" if choice.device == "cuda" else "CPU default (interactive)"
        self.info: dict = {
            "profile": self.profile.name,
            "model": self.profile.model,
            "backend": choice.backend,
            "device": choice.device,
            "precision": choice.precision,
            "input_size": input_size,
            "input_size_reason": size_reason,
            "backend_reason": choice.reason,
            "weights": ref.description,
            "pretrained": ref.pretrained,
            "num_classes": self.profile.num_classes,
            "load_ms": round(self.load_ms, 1),
        }
        if shipped:
            from .models import SOURCE

            self.info["source"] = dict(SOURCE)
            self.info["models"] = {m.name: f"{m.width}x{m.height}" for m in self.profile.shipped}
        providers = getattr(self._run, "providers", None)
        if providers:
            self.info["providers"] = list(providers)
        log.info("engine ready: %s", self.info)

    def __repr__(self) -> str:
        i = self.info
        return f"Engine({i['profile']!r}, backend={i['backend']!r}, device={i['device']!r})"

    def model_hw(self, height: int, width: int, size: int | None = None) -> tuple[int, int]:
        """Model input (height, width) for a frame of this size; ``size``: the long side
        (default :attr:`input_size`; shipped models have fixed sizes and ignore it)."""
        return self.profile.model_hw(height, width, size or self.input_size)

    def model_for(self, height: int, width: int) -> str:
        """The model a frame of this size runs on (a shipped model's name, else the profile's)."""
        if self.profile.shipped:
            return self.profile.shipped_for(height, width).name
        return self.profile.model

    def infer_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The masks and confidences (uint8 ``N x H x W`` each; confidence None where the
        profile gives none) of a uint8 ``N x 3 x H x W`` batch of frames already at model
        size (a cluster replica's shape bucket). The batch is one backend call (the exports
        take a dynamic batch axis), or calls of :attr:`batch_limit` frames where the backend
        has one."""
        if x.ndim != 4 or x.shape[1] != 3 or x.dtype != np.uint8 or not len(x):
            raise ValueError(f"infer_batch needs uint8 N x 3 x H x W with N >= 1, got {x.shape}")
        step = self.batch_limit or len(x)
        chunks = []
        with self._lock:
            for i in range(0, len(x), step):
                part = np.ascontiguousarray(x[i : i + step])
                chunks.append(run_with_oom_retry(lambda p=part: self._call(p), self._what(x)))
        masks = np.concatenate([c[0] for c in chunks])
        soft = np.concatenate([c[1] for c in chunks]) if len(chunks[0]) > 1 else None
        return masks, soft

    def _call(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        self.model_calls += 1
        return self._run(x)

    def _what(self, x: np.ndarray) -> str:
        return f"{self.profile.name} at {x.shape[2]}x{x.shape[3]}"

    def segment(
        self, rgb: np.ndarray, size: int | None = None, confidence: bool = True
    ) -> SegResult:
        """Segment an ``H x W x 3`` uint8 RGB frame; ``size`` overrides the model's long
        side for this frame (adaptive quality; at most :attr:`input_size`).

        ``confidence``: whether the caller needs :attr:`SegResult.confidence`. The graph
        gives it with the mask at no extra cost, so a local engine always fills it in; a
        cluster's ``RemoteEngine`` leaves it out (and its transfer) when False."""
        return self._segment(rgb, {"decode": 0.0}, time.perf_counter(), size)

    def segment_jpeg(
        self, data: bytes, size: int | None = None, confidence: bool = True
    ) -> SegResult:
        """Segment a JPEG-encoded frame (what the transports receive); as :meth:`segment`."""
        t0 = time.perf_counter()
        rgb = decode_jpeg(data, self.max_side)
        t1 = time.perf_counter()
        return self._segment(rgb, {"decode": (t1 - t0) * 1000}, t1, size)

    def _segment(
        self, rgb: np.ndarray, timings: dict[str, float], t0: float, size: int | None = None
    ) -> SegResult:
        validate_frame(rgb, self.max_side)
        if size is not None and not (isinstance(size, int) and 32 <= size <= self.input_size):
            raise ValueError(f"size must be an int from 32 to {self.input_size}, got {size!r}")
        h, w = self.model_hw(*rgb.shape[:2], size)
        x = to_nchw(resize(rgb, h, w, self.profile.resize))
        t1 = time.perf_counter()
        with self._lock:
            outputs = run_with_oom_retry(lambda: self._call(x), self._what(x))
        mask, *soft = (out[0] for out in outputs)
        t2 = time.perf_counter()
        class_ids = class_fractions(mask, len(self.labels))
        t3 = time.perf_counter()
        timings.update(
            preprocess=(t1 - t0) * 1000, inference=(t2 - t1) * 1000, postprocess=(t3 - t2) * 1000
        )
        result = SegResult(mask, class_ids, self.labels, timings, rgb, self.profile.name)
        if soft:
            result.confidence = soft[0]
            if self.profile.shipped:
                result.extra["model"] = self.model_for(*rgb.shape[:2])
        return result


_pool: dict[tuple, Engine] = {}
_pool_locks: dict[tuple, threading.Lock] = {}
_pool_guard = threading.Lock()


def get_engine(profile: str = "fast", **kwargs) -> Engine:
    """A shared engine per configuration, loaded once: switching back to a profile is instant.

    Concurrent callers asking for the same configuration wait for one load.
    """
    key = (profile, *sorted((k, str(v)) for k, v in kwargs.items()))
    with _pool_guard:
        if key in _pool:
            return _pool[key]
        lock = _pool_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _pool:
            engine = Engine(profile, **kwargs)
            with _pool_guard:
                _pool[key] = engine
        return _pool[key]


def clear_engines() -> None:
    """Drop every pooled engine (frees their memory once no session holds them)."""
    with _pool_guard:
        _pool.clear()
        _pool_locks.clear()
