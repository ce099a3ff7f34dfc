"""The public Engine API on real photos with random weights."""

import threading

import numpy as np
import pytest

from segwidget import PROFILES, Engine, FrameError, get_engine
from segwidget.hardware import choose_backend
from segwidget.labels import VOC_CLASSES, VOC_PALETTE
from segwidget.preprocess import encode_jpeg


def test_result_fields(fast_engine, photo):
    res = fast_engine.segment(photo)
    assert res.mask.dtype == np.uint8
    h, w = res.mask.shape
    assert max(h, w) == fast_engine.input_size
    assert abs(w / h - photo.shape[1] / photo.shape[0]) < 0.1  # aspect kept, no squashing
    assert res.mask.max() < len(fast_engine.labels)
    assert set(res.timings) == {"decode", "preprocess", "inference", "postprocess"}
    assert all(v >= 0 for v in res.timings.values())
    assert res.frame is photo
    assert res.profile == "fast"


def test_classes_are_names_with_fractions_largest_first(fast_engine, photos):
    res = fast_engine.segment(photos["coffee"])
    fractions = [f for _, f in res.classes]
    assert fractions == sorted(fractions, reverse=True)
    assert sum(fractions) == pytest.approx(1.0)
    counts = np.bincount(res.mask.ravel(), minlength=21) / res.mask.size
    for name, frac in res.classes:
        assert frac == pytest.approx(counts[fast_engine.labels.index(name)])


def test_mask_at_upsamples_with_nearest_neighbour(fast_engine, photo):
    res = fast_engine.segment(photo)
    big = res.mask_at(*photo.shape[:2])
    assert big.shape == photo.shape[:2]
    assert big.dtype == np.uint8
    assert set(np.unique(big)) == set(np.unique(res.mask))  # no invented classes
    h, w = res.mask.shape
    # the centre pixel of each model cell keeps its class
    ys = ((np.arange(h) + 0.5) * photo.shape[0] / h).astype(int)
    xs = ((np.arange(w) + 0.5) * photo.shape[1] / w).astype(int)
    assert np.array_equal(big[np.ix_(ys, xs)], res.mask)


def test_segment_jpeg_matches_segment_of_the_decoded_frame(fast_engine, photo):
    data = encode_jpeg(photo, 90)
    res = fast_engine.segment_jpeg(data)
    assert res.timings["decode"] > 0
    assert res.frame.shape == photo.shape
    assert np.array_equal(res.mask, fast_engine.segment(res.frame).mask)


def test_labels_palette_and_info(fast_engine):
    assert fast_engine.labels == list(VOC_CLASSES)
    assert np.array_equal(fast_engine.palette, VOC_PALETTE)
    info = fast_engine.info
    for key in (
        "profile",
        "model",
        "backend",
        "device",
        "precision",
        "input_size",
        "backend_reason",
        "weights",
    ):
        assert info[key] not in (None, "")
    # what the hardware decides (CPU here: ONNX Runtime; a CUDA GPU: torch FP16 or better)
    choice = choose_backend("auto", "auto")
    assert (info["backend"], info["device"]) == (choice.backend, choice.device)
    assert info["backend_reason"] == choice.reason
    assert "untrained" in info["weights"]
    assert info["pretrained"] is False
    cuda = choice.device == "cuda"
    assert ("GPU default" if cuda else "CPU default") in info["input_size_reason"]
    assert info["input_size"] == (PROFILES["fast"].gpu_size if cuda else PROFILES["fast"].cpu_size)


def test_accurate_profile_has_ade20k_labels(photo):
    eng = get_engine("accurate", weights="random", input_size=128)
    assert len(eng.labels) == 150
    assert eng.labels[0] == "wall"
    res = eng.segment(photo)
    assert max(res.mask.shape) == 128
    assert all(s % 32 == 0 for s in res.mask.shape)
    assert res.mask.max() < 150


def test_bad_input_is_a_clear_error_and_harms_nothing(fast_engine, photo):
    bad = [
        None,
        [[1, 2, 3]],
        np.zeros((8, 8, 3), np.float64),
        np.zeros((8, 8, 1), np.uint8),
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((4097, 8, 3), np.uint8),
    ]
    for value in bad:
        with pytest.raises(ValueError, match="frame"):
            fast_engine.segment(value)
    with pytest.raises(FrameError, match="JPEG"):
        fast_engine.segment_jpeg(b"\xff\xd8 not really")
    assert fast_engine.segment(photo).mask.size > 0  # still works


def test_size_limit_is_configurable(photo):
    eng = Engine("fast", weights="random", max_side=256)
    with pytest.raises(FrameError, match="limit is 256"):
        eng.segment(photo)  # 512x512
    assert eng.segment(photo[:200, :200]).mask.size > 0


def test_input_size_is_validated():
    with pytest.raises(ValueError, match="input_size"):
        Engine("fast", weights="random", input_size=5)


def test_engine_is_thread_safe(fast_engine, photos):
    frames = list(photos.values()) * 3
    expected = [fast_engine.segment(f).mask for f in frames]
    got: list = [None] * len(frames)

    def work(i):
        got[i] = fast_engine.segment(frames[i]).mask

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


def test_pool_loads_each_configuration_once():
    barrier = threading.Barrier(4)
    out = []

    def load():
        barrier.wait()
        out.append(get_engine("fast", weights="random", input_size=224))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in out}) == 1
    assert get_engine("fast", weights="random", input_size=224) is out[0]
    assert get_engine("fast", weights="random", input_size=256) is not out[0]
