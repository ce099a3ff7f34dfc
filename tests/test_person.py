"""The person profile: shipped MediaPipe models, right masks on real photos, alignment."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from segwidget import Engine, FrameError, get_engine
from segwidget.errors import BackendUnavailableError
from segwidget.hardware import Hardware, choose_backend
from segwidget.models import model_path
from segwidget.profiles import PROFILES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@mediapipe" / "selfie_segmentation"


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]


@pytest.fixture(scope="module")
def person():
    return get_engine("person")


def frame_mask(engine: Engine, rgb: np.ndarray) -> np.ndarray:
    """The person mask (bool) at the frame's size."""
    result = engine.segment(rgb)
    return result.mask_at(*rgb.shape[:2]).astype(bool)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


# --------------------------------------------------------------------- right masks


def test_astronaut_face_and_suit_are_person_and_the_shuttle_is_not(person):
    mask = frame_mask(person, photo("astronaut"))  # 512 x 512
    face_and_suit = mask[60:460, 170:290]
    shuttle = mask[:280, 360:]  # the shuttle stands at the right edge, above her helmet
    assert face_and_suit.mean() >= 0.90
    assert shuttle.mean() <= 0.10


@pytest.mark.parametrize("name", ["rocket", "grass", "brick"])
def test_scenes_without_a_subject_have_almost_no_person(person, name):
    assert frame_mask(person, photo(name)).mean() < 0.05


def test_the_cameraman_is_found(person):
    mask = frame_mask(person, photo("camera"))
    assert 0.2 < mask.mean() < 0.5
    assert mask[70:290, 100:260].mean() > 0.8  # head and coat
    assert mask[:, 400:].mean() < 0.05  # the field and the sky on the right


def test_confidence_is_the_soft_mask(person):
    result = person.segment(photo("astronaut"))
    conf = result.confidence
    assert conf is not None
    assert conf.dtype == np.uint8
    assert conf.shape == result.mask.shape
    np.testing.assert_array_equal(result.mask, (conf >= 128).astype(np.uint8))
    # Soft: confident inside and outside, graded at the edges.
    assert (conf == 255).mean() > 0.3
    assert (conf == 0).mean() > 0.2
    assert ((conf > 25) & (conf < 230)).any()


def test_other_profiles_give_no_confidence(fast_engine, photo):
    assert fast_engine.segment(photo).confidence is None


# --------------------------------------------------------------------- alignment


@pytest.fixture(scope="module")
def cutout(person):
    """The astronaut cut out with the mask of the unshifted photo, shrunk to 256 x 256."""
    rgb = photo("astronaut")
    mask = frame_mask(person, rgb)
    small = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(mask.astype(np.uint8), (256, 256), interpolation=cv2.INTER_NEAREST)
    return small, alpha.astype(bool)


def paste(cutout, frame_hw: tuple[int, int], x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out person on a plain grey frame at (x, y), and where it truly is."""
    rgb, alpha = cutout
    h, w = alpha.shape
    frame = np.full((*frame_hw, 3), (150, 160, 170), np.uint8)
    truth = np.zeros(frame_hw, bool)
    frame[y : y + h, x : x + w][alpha] = rgb[alpha]
    truth[y : y + h, x : x + w] = alpha
    return frame, truth


@pytest.mark.parametrize(
    ("frame_hw", "model"),
    [((480, 640), "selfie_square"), ((360, 640), "selfie_landscape")],
)
def test_the_mask_follows_the_person_when_shifted(person, cutout, frame_hw, model):
    fh, fw = frame_hw
    offsets = [(40, fh - 256 - 10), (fw // 2 - 128, (fh - 256) // 2), (fw - 256 - 40, 10)]
    base = None
    for x, y in offsets:
        frame, truth = paste(cutout, frame_hw, x, y)
        result = person.segment(frame)
        assert result.extra["model"] == model
        mask = result.mask_at(fh, fw).astype(bool)
        assert (mask == truth).mean() > 0.95, (x, y)
        got = centroid(mask)
        if base is None:
            base, origin = got, np.array([x, y])
            continue
        moved = got - base
        expected = np.array([x, y]) - origin
        assert abs(moved[0] - expected[0]) <= 0.02 * fw, (x, y, moved, expected)
        assert abs(moved[1] - expected[1]) <= 0.02 * fh, (x, y, moved, expected)


@pytest.mark.parametrize("frame_hw", [(480, 640), (360, 640)])
def test_a_flipped_frame_gives_the_flipped_mask(person, cutout, frame_hw):
    frame, _ = paste(cutout, frame_hw, 60, (frame_hw[0] - 256) // 2)
    mask = frame_mask(person, frame)
    flipped = frame_mask(person, np.ascontiguousarray(frame[:, ::-1]))
    assert mask.mean() > 0.1
    assert (flipped == mask[:, ::-1]).mean() >= 0.97
    assert centroid(flipped)[0] > frame_hw[1] / 2 > centroid(mask)[0]


# --------------------------------------------------------------------- the profile


@pytest.mark.parametrize(
    ("size", "model"),
    [
        ((480, 640), "selfie_square"),  # 4:3: nearer the square model (tie goes to it)
        ((720, 1280), "selfie_landscape"),  # 16:9
        ((450, 640), "selfie_landscape"),  # a little wider than 4:3
        ((640, 480), "selfie_square"),  # portrait
        ((512, 512), "selfie_square"),
    ],
)
def test_the_model_is_picked_by_frame_aspect(person, size, model):
    assert person.model_for(*size) == model
    rgb = np.zeros((*size, 3), np.uint8)
    result = person.segment(rgb)
    assert result.extra["model"] == model
    assert result.mask.shape == {"selfie_square": (256, 256), "selfie_landscape": (144, 256)}[model]


def test_engine_names_the_source_and_what_weights_mean():
    profile = PROFILES["person"]
    assert profile.num_classes == 2
    eng = Engine("person", weights="random", input_size=512)
    assert eng.labels == ["background", "person"]
    assert eng.info["pretrained"] is True
    assert "@mediapipe/selfie_segmentation@0.1.1675465747" in eng.info["weights"]
    assert "'random' does not apply" in eng.info["weights"]
    assert eng.info["source"]["licence"] == "Apache-2.0"
    assert "input_size=512 does not apply" in eng.info["input_size_reason"]
    assert set(eng.info["models"]) == {"selfie_square", "selfie_landscape"}
    assert "close-up" in profile.description


def test_shipped_models_load_with_no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("SEGWIDGET_CACHE_DIR", str(tmp_path))
    eng = Engine("person", cache_dir=tmp_path)
    assert eng.segment(photo("astronaut")).classes[0][0] == "person"
    assert not list(tmp_path.iterdir())  # nothing exported or downloaded


def test_torch_is_not_available_for_person_and_says_why():
    eng = Engine("person", backend="torch")
    assert eng.info["backend"] == "onnxruntime"
    assert "no torch network" in eng.info["backend_reason"]


def test_backend_choice_for_a_profile_without_a_torch_network():
    bare_gpu = Hardware(cuda=True, cuda_name="GPU", ort_providers=("CPUExecutionProvider",))
    choice = choose_backend("auto", "auto", bare_gpu, torch_network=False)
    assert (choice.backend, choice.device) == ("onnxruntime", "cpu")
    assert "no torch network" in choice.reason
    with pytest.raises(BackendUnavailableError, match="ONNX Runtime"):
        choose_backend("auto", "cuda", bare_gpu, torch_network=False)
    gpu = Hardware(
        cuda=True, ort_providers=("CUDAExecutionProvider", "CPUExecutionProvider"), tensorrt="10"
    )
    choice = choose_backend("torch", "auto", gpu, torch_network=False)
    assert (choice.backend, choice.device) == ("tensorrt", "cuda")
    no_ort = Hardware()
    with pytest.raises(BackendUnavailableError, match="onnxruntime"):
        choose_backend("auto", "cpu", no_ort, torch_network=False)


def test_bad_input_still_errors_clearly(person):
    with pytest.raises(FrameError, match="uint8"):
        person.segment(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(FrameError, match="alpha"):
        person.segment(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="takes no weights file"):
        Engine("person", weights="model.pt")
    with pytest.raises(ValueError, match="no model takes a 100x100"):
        person._run(np.zeros((1, 3, 100, 100), np.uint8))
    with pytest.raises(FileNotFoundError, match="shipped model 'nope'"):
        model_path("nope")


# --------------------------------------------------------------------- the files


@pytest.mark.parametrize(
    ("name", "hw"), [("selfie_square", (256, 256)), ("selfie_landscape", (144, 256))]
)
def test_shipped_files_take_uint8_rgb_and_batch(name, hw):
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path(name)), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "image"
    assert inp.type == "tensor(uint8)"
    assert inp.shape[1:] == [3, *hw]
    assert [o.name for o in session.get_outputs()] == ["mask", "confidence"]
    frames = [photo("astronaut"), photo("brick")]
    x = np.stack([cv2.resize(f, hw[::-1]).transpose(2, 0, 1) for f in frames])
    mask, conf = session.run(None, {"image": x})
    assert mask.shape == conf.shape == (2, *hw)
    one = session.run(None, {"image": x[1:]})[1]
    np.testing.assert_array_equal(conf[1], one[0])  # batching changes nothing
    assert mask[0].mean() > 0.4  # the astronaut
    assert mask[1].mean() < 0.01  # a brick wall
    # RGB, not BGR: swapping the channels changes the answer.
    swapped = session.run(None, {"image": np.ascontiguousarray(x[:, ::-1])})[1]
    assert np.abs(swapped[0].astype(int) - conf[0]).mean() > 0.5


@pytest.mark.skipif(
    importlib.util.find_spec("tflite") is None or not PACKAGE.exists(),
    reason="re-conversion needs the tflite package (pip install 'segwidget[convert]') and "
    "the npm package in node_modules (npm ci)",
)
def test_conversion_is_reproducible(tmp_path):
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert_selfie.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("selfie_square", "selfie_landscape"):
        assert (tmp_path / f"{name}.onnx").read_bytes() == model_path(name).read_bytes(), name
