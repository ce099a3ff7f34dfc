"""Weights: seeded random, local files the tests write, and the fast offline error."""

import time

import numpy as np
import pytest
import torch

from segwidget import Engine, WeightsUnavailableError, weights
from segwidget.profiles import PROFILES
from segwidget.weights import SegmentationNet, build_architecture, load_weights


def _mask(module, profile, photo):
    net = SegmentationNet(module, PROFILES[profile].family).eval()
    x = torch.from_numpy(np.ascontiguousarray(photo[::4, ::4].transpose(2, 0, 1)[None]))
    with torch.inference_mode():
        return net(x)[0].numpy()


def test_random_weights_are_seeded_and_give_varied_masks(photo):
    a = load_weights(PROFILES["fast"], "random")
    b = load_weights(PROFILES["fast"], "random")
    assert not a.pretrained
    assert "untrained" in a.description
    for (ka, va), (kb, vb) in zip(
        a.module.state_dict().items(), b.module.state_dict().items(), strict=False
    ):
        assert ka == kb
        assert torch.equal(va, vb), ka
    mask = _mask(a.module, "fast", photo)
    assert len(np.unique(mask)) >= 2  # BatchNorm calibration keeps activations alive


def test_torchvision_state_dict_file_loads(tmp_path, photo):
    torch.manual_seed(123)
    source = build_architecture(PROFILES["fast"], aux=True)  # pretrained files carry aux heads
    source.eval()
    path = tmp_path / "fast.pth"
    torch.save(source.state_dict(), path)
    loaded = load_weights(PROFILES["fast"], str(path))
    assert loaded.pretrained
    assert str(path) in loaded.description
    assert np.array_equal(_mask(loaded.module, "fast", photo), _mask(source, "fast", photo))
    # The identity (export cache key) changes when the file does.
    torch.save({"model": source.state_dict()}, path)  # a checkpoint layout is accepted too
    again = load_weights(PROFILES["fast"], path)
    assert again.identity.startswith("path:")


def test_state_dict_of_another_model_is_a_clear_error(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save(build_architecture(PROFILES["fast"]).state_dict(), path)
    with pytest.raises(ValueError, match="does not match the 'balanced' profile"):
        load_weights(PROFILES["balanced"], path)


def test_hugging_face_folder_loads(tmp_path, photo):
    source = load_weights(PROFILES["accurate"], "random").module
    source.save_pretrained(tmp_path / "segformer")
    loaded = load_weights(PROFILES["accurate"], tmp_path / "segformer")
    assert loaded.pretrained
    assert np.array_equal(_mask(loaded.module, "accurate", photo), _mask(source, "accurate", photo))


def test_missing_path_names_the_alternatives(tmp_path):
    with pytest.raises(FileNotFoundError, match="'pretrained', 'random'"):
        load_weights(PROFILES["fast"], tmp_path / "nope.pth")


def _assert_offline_message(exc: WeightsUnavailableError, profile: str, cache) -> None:
    text = str(exc)
    assert PROFILES[profile].pretrained in text
    assert str(cache) in text
    for fix in ("segwidget download", "weights=PATH", "weights='random'"):
        assert fix in text


@pytest.mark.parametrize("profile", ["fast", "accurate"])
def test_pretrained_offline_fails_fast_with_the_fixes(profile, tmp_path, monkeypatch):
    """Unresolvable hosts (RFC 6761 '.invalid') stand in for being offline, everywhere."""
    monkeypatch.setenv("SEGWIDGET_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "HF_HOST", "huggingface.invalid")
    monkeypatch.setattr(weights, "_torchvision_weights_enum", lambda p: _Enum(p.pretrained))
    t0 = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        Engine(profile, weights="pretrained")
    assert time.monotonic() - t0 < 15
    cache = tmp_path / ("torch/checkpoints" if profile == "fast" else "huggingface")
    _assert_offline_message(info.value, profile, cache)
    assert info.value.code == "WEIGHTS_UNAVAILABLE"


@pytest.mark.parametrize("profile", ["fast", "accurate"])
def test_segwidget_offline_fails_without_probing_the_network(profile, tmp_path, monkeypatch):
    monkeypatch.setenv("SEGWIDGET_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SEGWIDGET_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "_reachable", lambda *a, **k: pytest.fail("network probed"))
    with pytest.raises(WeightsUnavailableError, match="SEGWIDGET_OFFLINE is set"):
        Engine(profile, weights="pretrained")


class _Enum:
    def __init__(self, name):
        self.url = "https://weights.invalid/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth"
        self.name = name

    def __str__(self):
        return self.name


def test_cached_torchvision_file_is_used_without_network(tmp_path, monkeypatch, photo):
    """A file already in the torch hub cache loads with no download attempt."""
    monkeypatch.setenv("SEGWIDGET_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(weights, "_reachable", lambda *a, **k: pytest.fail("network probed"))
    enum = weights._torchvision_weights_enum(PROFILES["fast"])
    cached = tmp_path / "torch" / "checkpoints" / enum.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.manual_seed(7)
    source = build_architecture(PROFILES["fast"], aux=True).eval()
    torch.save(source.state_dict(), cached)
    loaded = load_weights(PROFILES["fast"], "pretrained")
    assert loaded.pretrained
    assert np.array_equal(_mask(loaded.module, "fast", photo), _mask(source, "fast", photo))
