"""What a ``weights=`` argument names, worked out without torch.

The identity is part of the ONNX export cache key, so an engine whose export is already on
disk can start from it without importing torch or building the network (about 500 MB less).
A profile with shipped models (``person``) resolves to its ONNX files in ``segwidget/models``:
always there, no network, no export.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelsNotInstalledError
from .profiles import Profile

RANDOM_SEED = 0

#: The extra that brings the downloadable profiles' stack, and the command that installs it.
MODELS_EXTRA = "models"
INSTALL_MODELS = "pip install 'segwidget[models]'"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class WeightsRef:
    """A ``weights=`` argument resolved: its stable identity, a description, and a local path
    (``None`` for ``"pretrained"`` and ``"random"``); for shipped models, ``graphs`` maps each
    model input ``(height, width)`` to its ONNX file."""

    kind: str  # "pretrained" | "random" | "path" | "shipped"
    identity: str
    description: str
    pretrained: bool
    path: Path | None = None
    graphs: dict[tuple[int, int], Path] = field(default_factory=dict)


def cache_root() -> Path | None:
    """``SEGWIDGET_CACHE_DIR`` (e.g. on Google Drive) overrides the standard caches."""
    root = os.environ.get("SEGWIDGET_CACHE_DIR")
    return Path(root).expanduser() if root else None


def _installed(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a blocked or broken package counts as missing
        return False


def missing_model_packages(profile: Profile) -> list[str]:
    """The packages of the ``models`` extra that ``profile`` needs and this environment
    lacks (found without importing them); always ``[]`` for a profile with shipped models."""
    if profile.shipped:
        return []
    needed = ["torch", "torchvision" if profile.family == "torchvision" else "transformers"]
    return [name for name in [*needed, "onnx"] if not _installed(name)]


def require_model_packages(profile: Profile) -> None:
    """Raise :class:`ModelsNotInstalledError` with the install command when ``profile``
    needs packages of the ``models`` extra that are missing (before anything is loaded)."""
    missing = missing_model_packages(profile)
    if not missing:
        return
    raise ModelsNotInstalledError(
        f"profile {profile.name!r} needs {', '.join(missing)} (the segwidget[{MODELS_EXTRA}] "
        f"extra), not installed here. Install it with: {INSTALL_MODELS} "
        f"(in a clone of the repository: pip install -e '.[{MODELS_EXTRA}]'), then restart "
        "the kernel (or the server). On a machine without a CUDA GPU, install the CPU-only "
        "torch first (no CUDA libraries: far smaller): pip install torch torchvision "
        f"--index-url {CPU_TORCH_INDEX}. "
        "Colab has torch already. The 'person' profile runs without it."
    )


def describe_weights(profile: Profile, weights: str | os.PathLike = "pretrained") -> WeightsRef:
    """Resolve ``weights`` for ``profile``: ``"pretrained"``, ``"random"`` or a local path.

    A path that does not exist, or a folder for a profile that loads a state dict file,
    raises here, before anything heavy is loaded.
    """
    if profile.shipped:
        return describe_shipped(profile, weights)
    if not isinstance(weights, os.PathLike) and weights == "random":
        return WeightsRef(
            "random", f"random-seed{RANDOM_SEED}", "random (untrained, seeded)", False
        )
    if not isinstance(weights, os.PathLike) and weights == "pretrained":
        prefix = "torchvision" if profile.family == "torchvision" else "hf"
        return WeightsRef(
            "pretrained",
            f"{prefix}:{profile.pretrained}",
            f"pretrained ({profile.pretrained})",
            True,
        )
    path = Path(weights).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"weights path {str(path)!r} does not exist; pass 'pretrained', 'random', "
            "a torchvision state dict file or a Hugging Face model folder"
        )
    if path.is_dir() and profile.family != "segformer":
        raise ValueError(
            f"profile {profile.name!r} loads a torchvision state dict file, not a folder"
        )
    stat = path.stat()
    identity = f"path:{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    what = "folder" if path.is_dir() else "file"
    return WeightsRef("path", identity, f"local {what} {path}", True, path)


def describe_shipped(profile: Profile, weights: str | os.PathLike = "pretrained") -> WeightsRef:
    """The profile's shipped ONNX graphs.

    ``"random"`` exists so that the downloadable profiles can run offline; a profile that
    ships its weights has nothing to download, so it uses them for ``"random"`` too (a
    widget created with ``weights="random"`` can switch to it). A path is refused: these
    models take no other weights.
    """
    from .models import SOURCE, model_path

    if isinstance(weights, os.PathLike) or weights not in ("pretrained", "random"):
        raise ValueError(
            f"profile {profile.name!r} runs the models shipped with segwidget and takes no "
            f"weights file (got weights={str(weights)!r}); use 'pretrained'"
        )
    graphs, digests = {}, []
    for model in profile.shipped:
        path = model_path(model.name)
        graphs[(model.height, model.width)] = path
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest()[:16])
    source = f"{SOURCE['package']}@{SOURCE['version']}, {SOURCE['licence']}"
    description = f"pretrained, shipped with segwidget ({source})"
    if weights == "random":
        description += "; weights='random' does not apply: this profile ships its weights"
    return WeightsRef("shipped", "shipped:" + "+".join(digests), description, True, None, graphs)
