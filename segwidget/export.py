"""ONNX export of a profile's network, cached on disk.

The file is keyed by profile, weights identity, precision, opset, library versions and the
export's format, and has dynamic batch, height and width axes, so one export serves every
camera aspect ratio and a cluster replica's batches (one shape bucket as one call).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from .cache_files import atomic_path, discard, is_intact
from .hardware import BackendChoice
from .profiles import Profile
from .weights_ref import cache_root

if TYPE_CHECKING:
    from .weights import SegmentationNet

log = logging.getLogger(__name__)

OPSET = 17
#: Bumped whenever the graph's interface changes, so an older cached file is never reused:
#: 2 = a dynamic batch axis (format 1 files had a batch of 1 only).
EXPORT_FORMAT = 2
#: The batch the graph is traced with: above 1, so no op can specialise on a batch of one.
TRACE_BATCH = 2


def exports_dir(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    root = cache_root()
    if root:
        return root / "exports"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "segwidget" / "exports"


def _version(package: str) -> str:
    """A package's installed version, read from its metadata: importing torch to ask
    ``torch.__version__`` would cost the cached path the memory it exists to save."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def export_key(profile: Profile, weights_identity: str, precision: str) -> str:
    fields = {
        "profile": profile.name,
        "model": profile.model,
        "weights": weights_identity,
        "precision": precision,
        "opset": OPSET,
        "shape": "Nx3xHxW dynamic",
        "format": EXPORT_FORMAT,
        **{name: _version(name) for name in ("torch", "torchvision", "transformers", "onnx")},
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def export_path(
    profile: Profile, weights_identity: str, precision: str, cache_dir: Path | None = None
) -> Path:
    """Where the export for these weights and precision lives (whether or not it exists yet)."""
    key = export_key(profile, weights_identity, precision)
    return exports_dir(cache_dir) / f"{profile.name}-{precision}-{key}.onnx"


def onnx_loads(path: Path) -> bool:
    """Whether ``path`` parses as an ONNX model (to adopt an export made before digests)."""
    import onnx

    try:
        onnx.load(str(path), load_external_data=False)
    except Exception:
        return False
    return True


def usable_export(path: Path) -> bool:
    """Whether the export at ``path`` is whole (its sidecar says so); a broken one is removed
    so that it is exported again, never reused."""
    if is_intact(path, adopt=onnx_loads):
        return True
    if path.exists():
        log.warning("discarding the incomplete ONNX export %s; exporting again", path)
        discard(path)
    return False


def export_onnx(
    net: SegmentationNet,
    profile: Profile,
    weights_identity: str,
    choice: BackendChoice,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
) -> Path:
    """Return the cached ONNX file for this network, exporting it first if needed.

    A cached file that fails its check is exported again; a full or read-only cache
    directory raises :class:`~segwidget.cache_files.CacheWriteError` naming it.
    """
    path = export_path(profile, weights_identity, choice.precision, cache_dir)
    if usable_export(path):
        log.info("reusing ONNX export %s", path)
        return path
    import torch

    device = torch.device(choice.device)
    dtype = torch.float16 if choice.precision == "fp16" else torch.float32
    net = net.to(device, dtype).eval()
    dummy = torch.zeros((TRACE_BATCH, 3, *sample_hw), dtype=torch.uint8, device=device)
    # written beside its final name and moved there whole: no reader sees half a file
    with (
        atomic_path(path, "the ONNX export") as tmp,
        warnings.catch_warnings(),
        torch.inference_mode(),
    ):
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic
        torch.onnx.export(
            net,
            (dummy,),
            str(tmp),
            opset_version=OPSET,
            dynamo=False,
            input_names=["image"],
            output_names=["mask"],
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "mask": {0: "batch", 1: "height", 2: "width"},
            },
        )
    net.to("cpu", torch.float32)
    log.info("exported %s", path)
    return path
