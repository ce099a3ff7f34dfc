"""Build a profile's network and fill it with weights: pretrained, random or a local path.

Offline with nothing cached, pretrained weights fail within seconds with
:class:`WeightsUnavailableError` instead of hanging in a download.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from .errors import WeightsUnavailableError
from .profiles import IMAGENET_MEAN, IMAGENET_STD, Profile
from .weights_ref import RANDOM_SEED, cache_root, describe_weights

log = logging.getLogger(__name__)

HF_HOST = "huggingface.co"
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LoadedWeights:
    """The network plus a stable identity of its weights (part of export cache keys).

    A profile with shipped models (``person``) has no torch network: ``module`` is None.
    """

    module: nn.Module | None
    identity: str
    description: str
    pretrained: bool


class SegmentationNet(nn.Module):
    """Export-friendly wrapper: uint8 ``N x 3 x H x W`` RGB in, uint8 ``N x H x W`` classes out.

    Normalisation runs inside the graph (on the GPU where there is one), and only the
    argmax leaves it, which is 1/num_classes of the logits' bytes.
    """

    def __init__(self, model: nn.Module, family: str):
        super().__init__()
        self.model = model
        self.family = family
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("inv_std", 1.0 / (torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 RGB -> float normalised exactly as the weights were trained (ImageNet stats)."""
        return (x.to(self.mean.dtype) - self.mean) * self.inv_std

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        pixels = self.normalize(x)
        if self.family == "segformer":
            out = self.model(pixel_values=pixels).logits  # 1/4 resolution
            return nn.functional.interpolate(
                out, size=pixels.shape[-2:], mode="bilinear", align_corners=False
            )
        return self.model(pixels)["out"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).argmax(1).to(torch.uint8)


def torch_hub_dir() -> Path:
    root = cache_root()
    return root / "torch" if root else Path(torch.hub.get_dir())


def hf_cache_dir() -> Path | None:
    root = cache_root()
    return root / "huggingface" if root else None


def build_architecture(profile: Profile, aux: bool = False) -> nn.Module:
    """The profile's network with freshly initialised weights (nothing is downloaded)."""
    if profile.family == "torchvision":
        from torchvision.models import segmentation

        build = getattr(segmentation, profile.model)
        return build(
            weights=None, weights_backbone=None, num_classes=profile.num_classes, aux_loss=aux
        )
    from transformers import SegformerForSemanticSegmentation

    return SegformerForSemanticSegmentation(segformer_b3_config(profile.num_classes))


def segformer_b3_config(num_labels: int):
    from transformers import SegformerConfig

    from .labels import ADE20K_CLASSES

    return SegformerConfig(
        depths=[3, 4, 18, 3],
        hidden_sizes=[64, 128, 320, 512],
        num_attention_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        decoder_hidden_size=768,
        num_labels=num_labels,
        id2label=dict(enumerate(ADE20K_CLASSES[:num_labels])),
        label2id={n: i for i, n in enumerate(ADE20K_CLASSES[:num_labels])},
    )


def load_weights(profile: Profile, weights: str | os.PathLike = "pretrained") -> LoadedWeights:
    """Return the profile's network in eval mode with the requested weights.

    ``weights``: ``"pretrained"`` (standard caches, downloads if online), ``"random"``
    (seeded, untrained) or a path to a torchvision state dict file / Hugging Face folder.
    """
    ref = describe_weights(profile, weights)
    if ref.graphs:  # shipped ONNX graphs: nothing to build or fetch
        return LoadedWeights(None, ref.identity, ref.description, ref.pretrained)
    if ref.path is not None:
        module = _load_path(profile, ref.path)
    elif ref.kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            module = build_architecture(profile)
            _calibrate_batchnorm(module, profile)
    elif profile.family == "torchvision":
        module = _load_torchvision_pretrained(profile)
    else:
        module = _load_hf_pretrained(profile, profile.pretrained)
    module.eval()
    return LoadedWeights(module, ref.identity, ref.description, ref.pretrained)


def _calibrate_batchnorm(module: nn.Module, profile: Profile) -> None:
    """Give an untrained net's BatchNorm layers the statistics of a seeded noise batch.

    Freshly initialised BatchNorm (mean 0, variance 1) lets MobileNetV3's activations collapse
    to a constant, so the untrained fast profile would paint one class everywhere. With
    calibrated statistics untrained nets produce varied masks with clear argmax margins, which
    is what pipeline demos and backend parity tests need.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batch
    noise = torch.rand(4, 3, 128, 128) * 255
    net = SegmentationNet(module, profile.family).train()
    with torch.no_grad():
        net.logits(noise)
    for m in norms:
        m.momentum = 0.1
    module.eval()


def _torchvision_weights_enum(profile: Profile):
    from torchvision.models import segmentation

    enum_name, member = profile.pretrained.split(".")
    return getattr(getattr(segmentation, enum_name), member)


def _load_torchvision_pretrained(profile: Profile) -> nn.Module:
    enum = _torchvision_weights_enum(profile)
    path = torch_hub_dir() / "checkpoints" / os.path.basename(urlparse(enum.url).path)
    if not path.exists():
        host = urlparse(enum.url).hostname or ""
        _require_network(profile, host, path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(enum.url, str(path), progress=True)
        except Exception as exc:
            raise _unavailable(profile, path.parent, f"download failed: {exc}") from exc
    state = torch.load(path, map_location="cpu", weights_only=True)
    module = build_architecture(profile, aux=any(k.startswith("aux_classifier") for k in state))
    module.load_state_dict(state)
    return module


def _load_hf_pretrained(profile: Profile, repo: str) -> nn.Module:
    from transformers import SegformerForSemanticSegmentation

    cache = hf_cache_dir()
    try:
        module = SegformerForSemanticSegmentation.from_pretrained(
            repo, cache_dir=cache, local_files_only=True
        )
    except OSError:
        from huggingface_hub import constants

        where = cache or Path(constants.HF_HUB_CACHE)
        if constants.HF_HUB_OFFLINE:
            raise _unavailable(profile, where, "HF_HUB_OFFLINE is set") from None
        _require_network(profile, HF_HOST, where)
        try:
            module = SegformerForSemanticSegmentation.from_pretrained(repo, cache_dir=cache)
        except Exception as exc:
            raise _unavailable(profile, where, f"download failed: {exc}") from exc
    return module


def _load_path(profile: Profile, path: Path) -> nn.Module:
    """A module from a path :func:`describe_weights` has checked."""
    if path.is_dir():
        from transformers import SegformerForSemanticSegmentation

        module = SegformerForSemanticSegmentation.from_pretrained(str(path), local_files_only=True)
        _check_classes(profile, module.config.num_labels, path)
        return module
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):  # common checkpoint layouts
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    module = build_architecture(profile, aux=any(k.startswith("aux_classifier") for k in state))
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{path} does not match the {profile.name!r} profile ({profile.model}): {exc}"
        ) from None
    return module


def _check_classes(profile: Profile, n: int, path: Path) -> None:
    if n != profile.num_classes:
        raise ValueError(
            f"{path} predicts {n} classes; profile {profile.name!r} expects {profile.num_classes}"
        )


def _require_network(profile: Profile, host: str, cache: Path) -> None:
    """Fail fast when ``host`` is unreachable, rather than hang in a download.

    ``SEGWIDGET_OFFLINE=1`` says so without probing (locked-down machines, hermetic tests).
    """
    if os.environ.get("SEGWIDGET_OFFLINE", "") not in ("", "0"):
        raise _unavailable(profile, cache, "SEGWIDGET_OFFLINE is set")
    if not _reachable(host):
        raise _unavailable(profile, cache, f"{host} cannot be reached (offline?)")


def _reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    ok = threading.Event()

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.set()
        except OSError:
            pass

    # DNS lookups ignore socket timeouts; a daemon thread bounds the whole probe.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return ok.is_set()


def _unavailable(profile: Profile, cache: Path, why: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"pretrained weights for profile {profile.name!r} ({profile.pretrained}) are not in "
        f"the cache at {cache} and cannot be downloaded: {why}. Fix it with one of: "
        f"run `segwidget download {profile.name}` on a machine with internet (set "
        f"SEGWIDGET_CACHE_DIR to share the cache); pass weights=PATH to a local "
        f"state dict file or Hugging Face folder; or pass weights='random' for an "
        f"untrained model (pipeline demos and tests)."
    )
