"""ONNX export of a profile's network, cached on disk.

The file is keyed by profile, weights identity, precision, opset and library versions, and
has dynamic height and width, so one export serves every camera aspect ratio.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from .hardware import BackendChoice
from .profiles import Profile
from .weights_ref import cache_root

if TYPE_CHECKING:
    from .weights import SegmentationNet

log = logging.getLogger(__name__)

OPSET = 17


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
        "shape": "1x3xHxW dynamic",
        **{name: _version(name) for name in ("torch", "torchvision", "transformers", "onnx")},
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def export_path(
    profile: Profile, weights_identity: str, precision: str, cache_dir: Path | None = None
) -> Path:
    """Where the export for these weights and precision lives (whether or not it exists yet)."""
    key = export_key(profile, weights_identity, precision)
    return exports_dir(cache_dir) / f"{profile.name}-{precision}-{key}.onnx"


def export_onnx(
    net: SegmentationNet,
    profile: Profile,
    weights_identity: str,
    choice: BackendChoice,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
) -> Path:
    """Return the cached ONNX file for this network, exporting it first if needed."""
    path = export_path(profile, weights_identity, choice.precision, cache_dir)
    if path.exists():
        log.info("reusing ONNX export %s", path)
        return path
    import torch

    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    device = torch.device(choice.device)
    dtype = torch.float16 if choice.precision == "fp16" else torch.float32
    net = net.to(device, dtype).eval()
    dummy = torch.zeros((1, 3, *sample_hw), dtype=torch.uint8, device=device)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic
            torch.onnx.export(
                net,
                (dummy,),
                tmp,
                opset_version=OPSET,
                dynamo=False,
                input_names=["image"],
                output_names=["mask"],
                dynamic_axes={
                    "image": {2: "height", 3: "width"},
                    "mask": {1: "height", 2: "width"},
                },
            )
        os.replace(tmp, path)  # atomic: concurrent engines never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    net.to("cpu", torch.float32)
    log.info("exported %s", path)
    return path
