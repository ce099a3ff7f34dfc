"""The model profiles and how each sizes its input."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedModel:
    """An ONNX graph shipped in ``segwidget/models`` with a fixed input size."""

    name: str  # file stem in segwidget/models
    height: int
    width: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


@dataclass(frozen=True)
class Profile:
    """What a profile runs and at which size.

    ``gpu_size`` / ``cpu_size`` are the default long side of the model input; the short side
    follows the frame's aspect ratio, both rounded to a multiple of ``multiple``. A profile
    with ``shipped`` models instead runs ready ONNX graphs at their fixed sizes (the frame is
    stretched to the one whose aspect is nearest), with no torch network, export or download.
    """

    name: str
    model: str
    family: str  # "torchvision" | "segformer" | "mediapipe"
    dataset: str  # "voc" | "ade20k" | "person": which labels and default colormap
    num_classes: int
    gpu_size: int
    cpu_size: int
    multiple: int
    gpu_backend: str
    cpu_backend: str
    pretrained: str  # torchvision weight enum, Hugging Face repo id or shipped models' source
    description: str
    shipped: tuple[ShippedModel, ...] = ()
    resize: str = "area"  # how frames shrink to the model input: "area" or "bilinear"
    soft_output: bool = False  # the graph also gives a per-pixel confidence

    @property
    def default_colormap(self) -> str:
        return self.dataset

    def model_hw(self, height: int, width: int, long_side: int) -> tuple[int, int]:
        """Model input (height, width) for a frame of this size."""
        if not self.shipped:
            return input_hw(height, width, long_side, self.multiple)
        model = self.shipped_for(height, width)
        return model.height, model.width

    def shipped_for(self, height: int, width: int) -> ShippedModel:
        """The shipped model for a frame: the nearest aspect ratio on a log scale, so with
        256x256 and 144x256 models frames wider than 4:3 get the landscape one; a tie goes
        to the larger input."""
        if height <= 0 or width <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        aspect = math.log(width / height)
        return min(
            self.shipped,
            key=lambda m: (round(abs(aspect - math.log(m.aspect)), 9), -m.height * m.width),
        )


PROFILES: dict[str, Profile] = {
    "fast": Profile(
        name="fast",
        model="deeplabv3_mobilenet_v3_large",
        family="torchvision",
        dataset="voc",
        num_classes=21,
        gpu_size=512,
        cpu_size=320,
        multiple=16,
        gpu_backend="tensorrt",
        cpu_backend="onnxruntime",
        pretrained="DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
        description="DeepLabV3-MobileNetV3-Large, 21 Pascal VOC classes: low latency",
    ),
    "balanced": Profile(
        name="balanced",
        model="deeplabv3_resnet50",
        family="torchvision",
        dataset="voc",
        num_classes=21,
        gpu_size=640,
        cpu_size=320,
        multiple=16,
        gpu_backend="tensorrt",
        cpu_backend="onnxruntime",
        pretrained="DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",
        description="DeepLabV3-ResNet50, 21 Pascal VOC classes: speed/accuracy trade-off",
    ),
    "accurate": Profile(
        name="accurate",
        model="segformer-b3",
        family="segformer",
        dataset="ade20k",
        num_classes=150,
        gpu_size=768,
        cpu_size=384,
        multiple=32,
        gpu_backend="tensorrt",
        cpu_backend="onnxruntime",
        pretrained="nvidia/segformer-b3-finetuned-ade-512-512",
        description="SegFormer-B3, 150 ADE20K classes: best quality",
    ),
    "person": Profile(
        name="person",
        model="mediapipe-selfie-segmentation",
        family="mediapipe",
        dataset="person",
        num_classes=2,
        gpu_size=256,
        cpu_size=256,
        multiple=16,
        gpu_backend="tensorrt",
        cpu_backend="onnxruntime",
        pretrained="@mediapipe/selfie_segmentation@0.1.1675465747 (Apache-2.0)",
        description=(
            "MediaPipe selfie segmentation, person vs background, trained weights shipped "
            "with segwidget (no download). Trained on people near the camera: other close-up "
            "subjects (a cat's face, a cup) can be marked as person too"
        ),
        shipped=(
            ShippedModel("selfie_square", 256, 256),
            ShippedModel("selfie_landscape", 144, 256),
        ),
        # MediaPipe's ImageToTensorCalculator samples the frame bilinearly (GPU texture
        # sampling, no antialiasing); measured against its runtime, area averaging agrees
        # on 87.8 % to 99.99 % of pixels, bilinear on >= 99.8 % (docs/MODELS.md).
        resize="bilinear",
        soft_output=True,
    ),
}

#: ImageNet statistics; both the torchvision DeepLabV3 weights and SegformerImageProcessor use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def get_profile(name: str) -> Profile:
    """Look a profile up by name; the error lists the valid names."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}"
        ) from None


def input_hw(height: int, width: int, long_side: int, multiple: int) -> tuple[int, int]:
    """Model input (height, width) for a frame: long side ``long_side``, aspect kept.

    Both sides are rounded to the nearest multiple of ``multiple`` (at least one multiple).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = long_side / max(height, width)

    def fit(side: int) -> int:
        return max(multiple, round(side * scale / multiple) * multiple)

    return fit(height), fit(width)
