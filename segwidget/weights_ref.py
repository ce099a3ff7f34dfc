"""What a ``weights=`` argument names, worked out without torch.

The identity is part of the ONNX export cache key, so an engine whose export is already on
disk can start from it without importing torch or building the network (about 500 MB less).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .profiles import Profile

RANDOM_SEED = 0


@dataclass(frozen=True)
class WeightsRef:
    """A ``weights=`` argument resolved: its stable identity, a description, and a local path
    (``None`` for ``"pretrained"`` and ``"random"``)."""

    kind: str  # "pretrained" | "random" | "path"
    identity: str
    description: str
    pretrained: bool
    path: Path | None = None


def cache_root() -> Path | None:
    """``SEGWIDGET_CACHE_DIR`` (e.g. on Google Drive) overrides the standard caches."""
    root = os.environ.get("SEGWIDGET_CACHE_DIR")
    return Path(root).expanduser() if root else None


def describe_weights(profile: Profile, weights: str | os.PathLike = "pretrained") -> WeightsRef:
    """Resolve ``weights`` for ``profile``: ``"pretrained"``, ``"random"`` or a local path.

    A path that does not exist, or a folder for a profile that loads a state dict file,
    raises here, before anything heavy is loaded.
    """
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
