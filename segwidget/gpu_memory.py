"""GPU out-of-memory during an inference: free the allocator's cache, retry once, else report.

torch raises ``torch.cuda.OutOfMemoryError``; ONNX Runtime and TensorRT raise generic
runtime errors whose text says so, hence the match on the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from .errors import GpuOutOfMemoryError

log = logging.getLogger(__name__)

T = TypeVar("T")

OOM_MARKERS = (
    "out of memory",  # torch, CUDA's cudaErrorMemoryAllocation text, ORT's CUDA provider
    "failed to allocate memory",  # ORT's BFC arena
    "cuda_error_out_of_memory",
    "cudaerrormemoryallocation",
)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` reports device memory exhaustion (not a host MemoryError)."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return any(marker in text for marker in OOM_MARKERS)


def free_gpu_cache() -> None:
    """Return torch's cached CUDA blocks to the driver (a no-op without CUDA)."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception as exc:  # freeing memory must never be what fails
        log.debug("freeing the CUDA cache failed: %s", exc)


def run_with_oom_retry(run: Callable[[], T], what: str) -> T:
    """``run()``; on GPU out-of-memory free the cache and try once more, then raise
    :class:`GpuOutOfMemoryError` (recoverable: the next frame is tried again)."""
    try:
        return run()
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        log.warning("GPU out of memory running %s; freeing the cache and retrying once", what)
    free_gpu_cache()
    try:
        return run()
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise GpuOutOfMemoryError(
            f"the GPU ran out of memory running {what} (after freeing its cache): {exc}. "
            "Close other GPU work, or use a smaller input_size or a lighter profile."
        ) from None
