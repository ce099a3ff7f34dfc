"""Batched inference: the exports' dynamic batch axis, ``Engine.infer_batch`` as one backend
call, and a cluster replica's batching (``segwidget.cluster.batching``) without Ray.

A batch must give each frame exactly what it gets alone, on every backend this machine has;
a replica must run each shape bucket of a Serve batch as one engine call (counted by the
engine) and send the confidence only to the frames that asked for it.
"""

from __future__ import annotations

import zlib

import numpy as np
import onnx
import pytest

from segwidget import export
from segwidget.backends.tensorrt_backend import shape_range
from segwidget.cluster.batching import Buckets, prepare, run_batch
from segwidget.engine import Engine, get_engine
from segwidget.preprocess import encode_jpeg, resize, to_nchw
from segwidget.profiles import PROFILES

TORCH_PROFILES = ["fast", "balanced", "accurate"]


def _frames(engine: Engine, photos: dict, hw: tuple[int, int] = (480, 640)) -> np.ndarray:
    """The photos at the engine's model size for a frame of ``hw``, as one uint8 batch."""
    h, w = engine.model_hw(*hw)
    return np.concatenate([to_nchw(resize(img, h, w)) for img in photos.values()])


def _one_by_one(engine: Engine, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
    return [engine.infer_batch(x[i : i + 1]) for i in range(len(x))]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
@pytest.mark.parametrize("profile", TORCH_PROFILES)
def test_a_batch_is_one_call_and_equals_its_frames_one_by_one(profile, backend, photos):
    engine = get_engine(profile, weights="random", backend=backend)
    assert engine.info["backend"] == backend
    x = _frames(engine, photos)
    calls = engine.model_calls
    masks, soft = engine.infer_batch(x)
    assert engine.model_calls - calls == 1  # the whole batch in one backend call
    assert masks.shape == (len(x), *x.shape[2:])
    assert soft is None  # these graphs give the classes only
    singles = _one_by_one(engine, x)
    assert engine.model_calls - calls == 1 + len(x)
    for k, (mask, _) in enumerate(singles):
        assert np.array_equal(masks[k], mask[0]), f"{profile}/{backend}: frame {k} differs"
    assert not all(np.array_equal(masks[0], m) for m in masks[1:])  # distinct frames


@pytest.mark.slow
@pytest.mark.parametrize("hw", [(480, 640), (720, 1280)])  # the square and landscape models
def test_person_batches_give_each_frame_its_mask_and_confidence(hw, photos):
    engine = get_engine("person")
    x = _frames(engine, photos, hw)
    assert x.shape[2:] == engine.model_hw(*hw)
    calls = engine.model_calls
    masks, soft = engine.infer_batch(x)
    assert engine.model_calls - calls == 1
    assert soft is not None
    assert soft.shape == masks.shape
    for k, (mask, conf) in enumerate(_one_by_one(engine, x)):
        assert np.array_equal(masks[k], mask[0])
        assert np.array_equal(soft[k], conf[0])
    # and what segment() gives for the frame at model size
    first = engine.segment(np.ascontiguousarray(x[0].transpose(1, 2, 0)))
    assert np.array_equal(first.confidence, soft[0])


def test_the_shipped_person_models_take_a_dynamic_batch():
    from segwidget.models import model_path

    for model in PROFILES["person"].shipped:
        graph = onnx.load(str(model_path(model.name)), load_external_data=False).graph
        for value in [*graph.input, *graph.output]:
            first = value.type.tensor_type.shape.dim[0]
            assert first.dim_param, (model.name, value.name)
            assert not first.dim_value


def test_the_export_has_a_dynamic_batch_axis(fast_engine):
    from segwidget.weights_ref import describe_weights

    p = PROFILES["fast"]
    ref = describe_weights(p, "random")
    path = export.export_path(p, ref.identity, fast_engine.info["precision"])
    assert path.is_file()  # the engine was built from it
    graph = onnx.load(str(path), load_external_data=False).graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch", (value.name, dims[0])


def test_the_export_key_changes_with_the_export_format(monkeypatch):
    """A cached file from before the batch axis (format 1) is never found under the key."""
    p = PROFILES["fast"]
    now = export.export_key(p, "random-seed0", "fp32")
    assert export.EXPORT_FORMAT >= 2
    monkeypatch.setattr(export, "EXPORT_FORMAT", 1)
    assert export.export_key(p, "random-seed0", "fp32") != now


@pytest.mark.parametrize("profile", TORCH_PROFILES)
def test_tensorrt_profile_covers_batches_up_to_max_batch(profile):
    lo, opt, hi = shape_range(PROFILES[profile], max_batch=8)
    assert (lo[0], opt[0], hi[0]) == (1, 8, 8)
    assert shape_range(PROFILES[profile])[2][0] == 1  # a local engine: single frames
    lo, opt, hi = shape_range(PROFILES[profile], 4, fixed_hw=(144, 256))
    assert lo == (1, 3, 144, 256)
    assert hi == opt == (4, 3, 144, 256)
    with pytest.raises(ValueError, match="max_batch"):
        shape_range(PROFILES[profile], 0)


def test_bad_batches_and_max_batch_are_refused(fast_engine):
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        fast_engine.infer_batch(np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        fast_engine.infer_batch(np.zeros((0, 3, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="max_batch"):
        Engine("fast", weights="random", max_batch=0)


def test_a_backend_batch_limit_splits_a_batch_into_calls(photos):
    engine = Engine("fast", weights="random", backend="onnxruntime")
    x = _frames(engine, photos)
    whole, _ = engine.infer_batch(x)
    engine.batch_limit = 2  # what a TensorRT engine built for batches up to 2 reports
    calls = engine.model_calls
    split, _ = engine.infer_batch(x)
    assert engine.model_calls - calls == 2  # 3 frames: 2 + 1
    assert np.array_equal(split, whole)


# -- a replica's batching, without Ray ---------------------------------------------------
def _requests(photos: dict, sizes: list[tuple[int, int]], **extra) -> list[dict]:
    imgs = list(photos.values())
    out = []
    for i, (h, w) in enumerate(sizes):
        img = resize(imgs[i % len(imgs)], h, w)
        out.append({"jpeg": encode_jpeg(img), **extra})
    return out


def _run(engine: Engine, requests: list[dict]):
    buckets = Buckets(engine)
    items = [prepare(engine, buckets, r, 0.0) for r in requests]
    calls = engine.model_calls
    replies, _ = run_batch(engine, items)
    return replies, engine.model_calls - calls


def _mask(reply: dict) -> np.ndarray:
    return np.frombuffer(zlib.decompress(reply["mask"]), np.uint8).reshape(reply["hw"])


def test_a_replica_runs_each_bucket_of_a_batch_as_one_engine_call(fast_engine, photos):
    reqs = _requests(photos, [(480, 640)] * 4)
    replies, calls = _run(fast_engine, reqs)
    assert calls == 1  # four 4:3 frames: one bucket, one tensor, one call
    for req, reply in zip(reqs, replies, strict=True):
        assert reply["batch"] == 4
        assert np.array_equal(_mask(reply), fast_engine.segment_jpeg(req["jpeg"]).mask)
        assert "confidence" not in reply
    # two 4:3 and two 16:9 frames, and a 3:2 one letterboxed into the 4:3 bucket: two calls
    reqs = _requests(photos, [(480, 640), (720, 1280), (480, 640), (720, 1280), (400, 600)])
    replies, calls = _run(fast_engine, reqs)
    assert calls == 2
    for req, reply in zip(reqs[:4], replies[:4], strict=True):
        assert np.array_equal(_mask(reply), fast_engine.segment_jpeg(req["jpeg"]).mask)
    want = fast_engine.segment_jpeg(reqs[4]["jpeg"]).mask
    assert tuple(replies[4]["hw"]) == want.shape  # the padding is cut off again


@pytest.mark.slow
def test_a_person_replica_sends_the_confidence_only_to_frames_that_ask(photos):
    engine = get_engine("person")
    reqs = _requests(photos, [(480, 640)] * 3)
    reqs[1]["confidence"] = True
    replies, calls = _run(engine, reqs)
    assert calls == 1
    assert [("confidence" in r) for r in replies] == [False, True, False]
    local = engine.segment_jpeg(reqs[1]["jpeg"])
    soft = np.frombuffer(zlib.decompress(replies[1]["confidence"]), np.uint8)
    assert np.array_equal(soft.reshape(replies[1]["hw"]), local.confidence)
    assert np.array_equal(_mask(replies[1]), local.mask)
    assert replies[1]["model"] == local.extra["model"] == "selfie_square"
