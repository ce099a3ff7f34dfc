import pytest

from segwidget import PROFILES
from segwidget.profiles import get_profile, input_hw


def test_three_profiles_with_the_spec_models_and_sizes():
    assert list(PROFILES) == ["fast", "balanced", "accurate", "person"]
    fast, balanced, accurate = (PROFILES[n] for n in ("fast", "balanced", "accurate"))
    assert (fast.model, fast.num_classes, fast.gpu_size) == (
        "deeplabv3_mobilenet_v3_large",
        21,
        512,
    )
    assert (balanced.model, balanced.num_classes, balanced.gpu_size) == (
        "deeplabv3_resnet50",
        21,
        640,
    )
    assert (accurate.family, accurate.num_classes, accurate.gpu_size) == ("segformer", 150, 768)
    assert accurate.pretrained == "nvidia/segformer-b3-finetuned-ade-512-512"
    for p in (fast, balanced, accurate):
        assert p.cpu_size < p.gpu_size
    for p in PROFILES.values():
        assert p.cpu_backend == "onnxruntime"


def test_the_person_profile_ships_two_fixed_size_models():
    person = PROFILES["person"]
    assert (person.family, person.dataset, person.num_classes) == ("mediapipe", "person", 2)
    assert [(m.name, m.height, m.width) for m in person.shipped] == [
        ("selfie_square", 256, 256),
        ("selfie_landscape", 144, 256),
    ]
    assert person.model_hw(480, 640, 999) == (256, 256)  # long_side does not apply
    assert person.model_hw(720, 1280, 999) == (144, 256)
    with pytest.raises(ValueError, match="positive"):
        person.shipped_for(0, 640)


def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError, match="fast, balanced, accurate"):
        get_profile("turbo")


@pytest.mark.parametrize(
    ("h", "w", "side", "mult", "expected"),
    [
        (480, 640, 320, 16, (240, 320)),  # 4:3 webcam
        (720, 1280, 512, 16, (288, 512)),  # 16:9
        (640, 480, 320, 16, (240, 320)[::-1]),  # portrait keeps its orientation
        (480, 640, 384, 32, (288, 384)),
        (100, 3000, 320, 16, (16, 320)),  # never below one multiple
        (120, 160, 320, 16, (240, 320)),  # small frames are scaled up to the model size
    ],
)
def test_input_hw_keeps_aspect_and_rounds_to_multiples(h, w, side, mult, expected):
    out = input_hw(h, w, side, mult)
    assert out == expected
    assert all(s % mult == 0 for s in out)


def test_input_hw_rejects_empty_frames():
    with pytest.raises(ValueError, match="positive"):
        input_hw(0, 10, 320, 16)
