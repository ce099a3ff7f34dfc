"""Tests for segwidget.labels: class tables, palettes and the small helpers."""

from __future__ import annotations

import numpy as np
import pytest

from segwidget.labels import (
    ADE20K_CLASSES,
    ADE20K_PALETTE,
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    COLORMAPS,
    PALETTES,
    PERSON_CLASSES,
    PERSON_PALETTE,
    VOC_CLASSES,
    VOC_PALETTE,
    resolve_palette,
    validate_class_filter,
    voc_colormap,
)

# ---------------------------------------------------------------- class names


def test_class_counts():
    assert len(VOC_CLASSES) == 21
    assert len(ADE20K_CLASSES) == 150
    assert len(CITYSCAPES_CLASSES) == 19


@pytest.mark.parametrize("labels", [VOC_CLASSES, ADE20K_CLASSES, CITYSCAPES_CLASSES])
def test_class_names_are_unique_stripped_strings(labels):
    assert len(set(labels)) == len(labels)
    for name in labels:
        assert isinstance(name, str)
        assert name
        assert name == name.strip()


def test_voc_names():
    assert VOC_CLASSES[0] == "background"
    assert VOC_CLASSES[1] == "aeroplane"
    assert VOC_CLASSES[11] == "diningtable"
    assert VOC_CLASSES[15] == "person"
    assert VOC_CLASSES[16] == "pottedplant"
    assert VOC_CLASSES[20] == "tvmonitor"


def test_voc_names_match_torchvision():
    segmentation = pytest.importorskip("torchvision.models.segmentation")
    weights = segmentation.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1
    categories = weights.meta["categories"]
    assert categories[0] == "__background__"
    assert list(VOC_CLASSES[1:]) == list(categories[1:])


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "wall"),
        (1, "building"),
        (2, "sky"),
        (3, "floor"),
        (6, "road"),
        (7, "bed"),  # "bed " in the HF config, stripped here
        (8, "windowpane"),
        (12, "person"),
        (20, "car"),
        (48, "skyscraper"),
        (73, "kitchen island"),
        (80, "bus"),
        (127, "bicycle"),
        (136, "traffic light"),
        (141, "crt screen"),
        (149, "flag"),
    ],
)
def test_ade20k_names(index, name):
    assert ADE20K_CLASSES[index] == name


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "road"),
        (1, "sidewalk"),
        (6, "traffic light"),
        (10, "sky"),
        (11, "person"),
        (18, "bicycle"),
    ],
)
def test_cityscapes_names(index, name):
    assert CITYSCAPES_CLASSES[index] == name


# ------------------------------------------------------------------- palettes


@pytest.mark.parametrize(
    ("palette", "n"),
    [(VOC_PALETTE, 21), (ADE20K_PALETTE, 150), (CITYSCAPES_PALETTE, 19)],
)
def test_palette_shape_and_dtype(palette, n):
    assert isinstance(palette, np.ndarray)
    assert palette.shape == (n, 3)
    assert palette.dtype == np.uint8


def test_palettes_mapping_and_colormaps():
    assert set(PALETTES) == {"voc", "ade20k", "cityscapes", "person"}
    assert PALETTES["voc"] is VOC_PALETTE
    assert PALETTES["ade20k"] is ADE20K_PALETTE
    assert PALETTES["cityscapes"] is CITYSCAPES_PALETTE
    assert PALETTES["person"] is PERSON_PALETTE
    assert PERSON_PALETTE.tolist() == [[0, 0, 0], VOC_PALETTE[VOC_CLASSES.index("person")].tolist()]
    assert PERSON_CLASSES == ("background", "person")
    assert COLORMAPS == ("voc", "ade20k", "cityscapes", "person", "custom")


@pytest.mark.parametrize(
    ("index", "rgb"),
    [
        (0, (0, 0, 0)),
        (1, (128, 0, 0)),
        (2, (0, 128, 0)),
        (3, (128, 128, 0)),
        (4, (0, 0, 128)),
        (7, (128, 128, 128)),
        (8, (64, 0, 0)),
        (12, (64, 0, 128)),
        (15, (192, 128, 128)),
        (20, (0, 64, 128)),
    ],
)
def test_voc_known_colours(index, rgb):
    assert tuple(VOC_PALETTE[index].tolist()) == rgb


def test_voc_colormap_extends_standard_map():
    big = voc_colormap(256)
    assert big.shape == (256, 3)
    assert big.dtype == np.uint8
    np.testing.assert_array_equal(big[:21], VOC_PALETTE)
    assert tuple(big[255].tolist()) == (224, 224, 192)  # VOC "void" boundary colour
    assert len({tuple(c) for c in big.tolist()}) == 256


@pytest.mark.parametrize(
    ("index", "rgb"),
    [
        (0, (120, 120, 120)),
        (1, (180, 120, 120)),
        (2, (6, 230, 230)),
        (3, (80, 50, 50)),
        (12, (150, 5, 61)),
        (20, (0, 102, 200)),
        (149, (92, 0, 255)),
    ],
)
def test_ade20k_known_colours(index, rgb):
    assert tuple(ADE20K_PALETTE[index].tolist()) == rgb


def test_ade20k_palette_unique_except_known_duplicate():
    # The official mmsegmentation palette repeats (140, 140, 140) for road (6)
    # and skyscraper (48); every other colour is distinct.
    colours = [tuple(c) for c in ADE20K_PALETTE.tolist()]
    assert colours[6] == colours[48] == (140, 140, 140)
    rest = colours[:48] + colours[49:]
    assert len(set(rest)) == 149


@pytest.mark.parametrize(
    ("index", "rgb"),
    [
        (0, (128, 64, 128)),
        (1, (244, 35, 232)),
        (2, (70, 70, 70)),
        (8, (107, 142, 35)),
        (10, (70, 130, 180)),
        (11, (220, 20, 60)),
        (13, (0, 0, 142)),
        (18, (119, 11, 32)),
    ],
)
def test_cityscapes_known_colours(index, rgb):
    assert tuple(CITYSCAPES_PALETTE[index].tolist()) == rgb


def test_cityscapes_palette_unique():
    assert len({tuple(c) for c in CITYSCAPES_PALETTE.tolist()}) == 19


def test_shared_palettes_are_read_only():
    for palette in PALETTES.values():
        with pytest.raises(ValueError, match="read-only"):
            palette[0, 0] = 1


# ------------------------------------------------------------ resolve_palette


@pytest.mark.parametrize("name", ["voc", "ade20k", "cityscapes"])
def test_resolve_palette_exact_length(name):
    base = PALETTES[name]
    out = resolve_palette(name, len(base))
    assert out.shape == base.shape
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, base)


def test_resolve_palette_wraps_around():
    out = resolve_palette("voc", 45)
    assert out.shape == (45, 3)
    for c in range(45):
        np.testing.assert_array_equal(out[c], VOC_PALETTE[c % 21])
    np.testing.assert_array_equal(out[21], VOC_PALETTE[0])
    np.testing.assert_array_equal(out[36], VOC_PALETTE[15])


def test_resolve_palette_truncates_and_is_a_copy():
    out = resolve_palette("ade20k", 5)
    np.testing.assert_array_equal(out, ADE20K_PALETTE[:5])
    out[0] = (1, 2, 3)  # writable copy; the shared table is untouched
    assert tuple(ADE20K_PALETTE[0].tolist()) == (120, 120, 120)


def test_resolve_palette_zero_classes():
    out = resolve_palette("cityscapes", 0)
    assert out.shape == (0, 3)
    assert out.dtype == np.uint8


def test_resolve_palette_custom_wraps():
    custom = [[255, 0, 0], (0, 255, 0), [0, 0, 255]]
    out = resolve_palette("custom", 7, custom)
    assert out.shape == (7, 3)
    assert out.dtype == np.uint8
    assert [tuple(c) for c in out.tolist()] == [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 0, 0),
    ]


def test_resolve_palette_custom_accepts_numpy():
    custom = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)
    out = resolve_palette("custom", 3, custom)
    assert out.tolist() == [[1, 2, 3], [4, 5, 6], [1, 2, 3]]


@pytest.mark.parametrize(
    ("custom", "match"),
    [
        (None, "custom"),
        ([], "empty"),
        ([[1, 2]], "3 values"),
        ([[1, 2, 3, 4]], "3 values"),
        ([[0, 0, 256]], "0..255"),
        ([[-1, 0, 0]], "0..255"),
        ([[0.5, 0, 0]], "0..255"),
        ([["1", "2", "3"]], "0..255"),
        ([[True, 0, 0]], "0..255"),
        ([5], r"\[r, g, b\]"),
        (["abc"], r"\[r, g, b\]"),
        ([[0, 0, 0], [1, 2]], "entry 1"),
    ],
)
def test_resolve_palette_custom_invalid(custom, match):
    with pytest.raises(ValueError, match=match):
        resolve_palette("custom", 4, custom)


def test_resolve_palette_unknown_colormap_lists_valid_names():
    with pytest.raises(ValueError, match="rainbow") as excinfo:
        resolve_palette("rainbow", 10)
    message = str(excinfo.value)
    for name in COLORMAPS:
        assert name in message


def test_resolve_palette_negative_classes():
    with pytest.raises(ValueError, match="n_classes"):
        resolve_palette("voc", -1)


# ------------------------------------------------------ validate_class_filter


def test_validate_class_filter_returns_list():
    assert validate_class_filter(["person", "dog"], VOC_CLASSES) == ["person", "dog"]
    assert validate_class_filter(("sky",), ADE20K_CLASSES) == ["sky"]
    assert validate_class_filter([], CITYSCAPES_CLASSES) == []


def test_validate_class_filter_unknown_names():
    with pytest.raises(ValueError, match="unknown") as excinfo:
        validate_class_filter(["person", "unicorn", "dragon"], VOC_CLASSES)
    message = str(excinfo.value)
    assert "unicorn" in message
    assert "dragon" in message
    assert "tvmonitor" in message  # valid names are listed


def test_validate_class_filter_is_exact_match():
    # ADE20K spells it "bed" after stripping; VOC has no "people".
    assert validate_class_filter(["bed"], ADE20K_CLASSES) == ["bed"]
    with pytest.raises(ValueError, match="people"):
        validate_class_filter(["people"], VOC_CLASSES)
    with pytest.raises(ValueError, match="Person"):
        validate_class_filter(["Person"], CITYSCAPES_CLASSES)
