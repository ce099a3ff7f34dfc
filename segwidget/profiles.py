"""The three model profiles and how each sizes its input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """What a profile runs and at which size.

    ``gpu_size`` / ``cpu_size`` are the default long side of the model input; the short side
    follows the frame's aspect ratio, both rounded to a multiple of ``multiple``.
    """

    name: str
    model: str
    family: str  # "torchvision" | "segformer"
    dataset: str  # "voc" | "ade20k": which labels and default colormap
    num_classes: int
    gpu_size: int
    cpu_size: int
    multiple: int
    gpu_backend: str
    cpu_backend: str
    pretrained: str  # torchvision weight enum or Hugging Face repo id
    description: str

    @property
    def default_colormap(self) -> str:
        return self.dataset


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
