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
from pathlib import Path

import torch

from .hardware import BackendChoice
from .profiles import Profile
from .weights import SegmentationNet, cache_root

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


def export_key(profile: Profile, weights_identity: str, precision: str) -> str:
    import onnx
    import torchvision
    import transformers

    fields = {
        "profile": profile.name,
        "model": profile.model,
        "weights": weights_identity,
        "precision": precision,
        "opset": OPSET,
        "shape": "1x3xHxW dynamic",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def export_onnx(
    net: SegmentationNet,
    profile: Profile,
    weights_identity: str,
    choice: BackendChoice,
    sample_hw: tuple[int, int],
    cache_dir: Path | None = None,
) -> Path:
    """Return the cached ONNX file for this network, exporting it first if needed."""
    folder = exports_dir(cache_dir)
    key = export_key(profile, weights_identity, choice.precision)
    path = folder / f"{profile.name}-{choice.precision}-{key}.onnx"
    if path.exists():
        log.info("reusing ONNX export %s", path)
        return path
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
