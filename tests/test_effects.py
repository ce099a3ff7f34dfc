"""segwidget.effects: blur, replace and the confidence view on synthetic masks; mirror; the
temporal smoothing; the background setting."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from segwidget.effects import (
    ClassSteadier,
    ConfidenceSmoother,
    ViewSmoothing,
    compose_confidence,
    heat_lut,
    parse_background,
    person_alpha,
    person_index,
)
from segwidget.labels import ADE20K_CLASSES, VOC_CLASSES, VOC_PALETTE
from segwidget.render import VIZ_MODES, render_overlay

PERSON = 15  # VOC


def high_freq_energy(img: np.ndarray) -> float:
    """Mean squared Laplacian of the grey image: what a blur takes away."""
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float((cv2.Laplacian(grey, cv2.CV_64F) ** 2).mean())


@pytest.fixture(scope="module")
def scene(photos):
    """A textured 480x640 frame, and a VOC mask (model size 240x320) with a person box."""
    frame = cv2.resize(photos["coffee"], (640, 480), interpolation=cv2.INTER_AREA)
    mask = np.zeros((240, 320), np.uint8)
    mask[40:220, 100:220] = PERSON  # frame rows 80..440, columns 200..440
    return frame, mask


def test_person_index_per_label_set():
    assert person_index(VOC_CLASSES) == 15
    assert person_index(ADE20K_CLASSES) == ADE20K_CLASSES.index("person") == 12
    assert person_index(["background", "person"]) == 1
    assert person_index(["background", "cat"]) is None


def test_person_alpha_prefers_confidence():
    mask = np.array([[0, 15], [15, 3]], np.uint8)
    # the person class's share of each 3x3 neighbourhood (border replicated): round(255 n / 9)
    assert person_alpha(mask, None, 15).tolist() == [[113, 142], [142, 113]]
    conf = np.array([[10, 200], [250, 0]], np.uint8)
    assert person_alpha(mask, conf, 15) is conf
    assert person_alpha(mask, None, None).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="confidence must be uint8"):
        person_alpha(mask, np.zeros((3, 3), np.uint8), 15)


def test_blur_lowers_high_frequencies_in_the_background_only(scene):
    frame, mask = scene
    out = render_overlay(frame, mask, VOC_PALETTE, "blur", person=PERSON)
    assert out.shape == frame.shape
    bg = (slice(0, 60), slice(0, 640))  # far from the person box
    person = (slice(120, 400), slice(240, 400))  # well inside it
    ratio_bg = high_freq_energy(out[bg]) / high_freq_energy(frame[bg])
    ratio_person = high_freq_energy(out[person]) / high_freq_energy(frame[person])
    assert ratio_bg < 0.05, ratio_bg
    assert ratio_person == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(out[person], frame[person])


def test_replace_colour_where_alpha_is_0_and_frame_where_255(scene):
    frame, mask = scene
    conf = np.where(mask == PERSON, 255, 0).astype(np.uint8)
    out = render_overlay(
        frame, mask, VOC_PALETTE, "replace", confidence=conf, background=(12, 34, 56)
    )
    assert (out[:60] == (12, 34, 56)).all()  # background, away from the edge
    assert (out[:, :150] == (12, 34, 56)).all()
    np.testing.assert_array_equal(out[120:400, 240:400], frame[120:400, 240:400])
    # the edge is soft: values between the two across the box's left side
    row = out[240, 180:220, 0].astype(int)
    between = (row > min(12, frame[240, 180:220, 0].min())) & (row != 12)
    assert between.any()


def test_replace_has_no_ghost_of_the_old_background_in_half_confident_areas():
    """The edge ramp: below 0.35 the background alone, above 0.65 the person alone, a mix
    only in between (the glow and the ghost of the old background are gone)."""
    frame = np.full((40, 40, 3), 200, np.uint8)
    mask = np.zeros((20, 20), np.uint8)
    for conf, lo, hi in ((80, 0, 0), (180, 200, 200), (128, 95, 110)):
        p = np.full((20, 20), conf, np.uint8)  # uniform: no edge anywhere
        out = render_overlay(frame, mask, VOC_PALETTE, "replace", confidence=p, background="#000")
        assert lo <= out.min(), (conf, out.min())
        assert out.max() <= hi, (conf, out.max())


def test_replace_with_an_image_covers_the_frame(scene):
    frame, mask = scene
    bg = np.zeros((100, 100, 3), np.uint8)  # square: scaled to 640x640, centre rows kept
    bg[:, :50] = (255, 0, 0)
    bg[:, 50:] = (0, 0, 255)
    out = render_overlay(frame, mask, VOC_PALETTE, "replace", person=PERSON, background=bg)
    assert (out[:60, :150] == (255, 0, 0)).all()
    assert (out[:60, 500:] == (0, 0, 255)).all()


def test_confidence_view_is_the_heat_map_mixed_at_the_opacity():
    lut = heat_lut()
    assert lut[0].tolist() == [0, 0, 255]  # surely background: blue
    assert lut[128].tolist() == [0, 255, 0]  # unsure: green
    assert lut[255].tolist() == [255, 0, 0]  # surely person: red
    frame = np.full((4, 4, 3), 100, np.uint8)
    conf = np.array([[0, 255], [128, 64]], np.uint8)
    out = render_overlay(frame, np.zeros((2, 2), np.uint8), VOC_PALETTE, "confidence", 1.0,
                         confidence=conf)  # fmt: skip
    assert out[0, 0].tolist() == [0, 0, 255]
    assert out[0, 3].tolist() == [255, 0, 0]
    assert out[3, 0].tolist() == [0, 255, 0]
    half = compose_confidence(frame, conf, 0.5)
    assert half[0, 3].tolist() == [178, 50, 50]  # round(100 * .5 + 255 * .5) = 178
    # without confidence the view shows the person class (its 3x3 share at mask resolution)
    mask = np.zeros((6, 6), np.uint8)
    mask[:, :3] = 15
    out = render_overlay(frame[:1, :1].repeat(6, 0).repeat(6, 1), mask, VOC_PALETTE,
                         "confidence", 1.0, person=15)  # fmt: skip
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 5].tolist() == [0, 0, 255]


@pytest.mark.parametrize("mode", VIZ_MODES)
def test_mirror_flips_video_and_mask_together(mode, scene):
    frame, mask = scene
    mask = cv2.resize(mask, (640, 480), interpolation=cv2.INTER_NEAREST)  # no upsampling ties
    mask[100:200, 50:120] = 3  # something asymmetric
    conf = np.where(mask == PERSON, 230, 20).astype(np.uint8)
    kw = {"confidence": conf, "person": PERSON}
    plain = render_overlay(frame, mask, VOC_PALETTE, mode, 0.6, **kw)
    mirrored = render_overlay(frame, mask, VOC_PALETTE, mode, 0.6, mirror=True, **kw)
    if mode == "side-by-side":  # each half is mirrored in place
        w = frame.shape[1]
        np.testing.assert_array_equal(mirrored[:, :w], plain[:, :w][:, ::-1])
        np.testing.assert_array_equal(mirrored[:, w:], plain[:, w:][:, ::-1])
    elif mode in ("blur", "replace"):  # OpenCV's filters are not exactly symmetric
        assert np.abs(mirrored.astype(int) - plain[:, ::-1]).max() <= 1
    else:
        np.testing.assert_array_equal(mirrored, plain[:, ::-1])
    assert not np.array_equal(mirrored, plain)


def test_smoother_is_an_exponential_moving_average():
    s = ConfidenceSmoother(1.0)  # k = 0.9
    a0 = np.zeros((2, 2), np.uint8)
    a1 = np.full((2, 2), 255, np.uint8)
    assert s.update(a0).tolist() == a0.tolist()  # the first one as it is
    assert s.update(a1)[0, 0] == 26  # 0.9 * 0 + 0.1 * 255 = 25.5 -> 26
    assert s.update(a1)[0, 0] == 48  # 0.9 * 25.5 + 25.5 = 48.45
    assert s.update(np.zeros((3, 2), np.uint8)).tolist() == [[0, 0]] * 3  # new shape: restart
    off = ConfidenceSmoother(0.0)
    off.update(a0)
    assert off.update(a1).tolist() == a1.tolist()
    half = ConfidenceSmoother(0.5)  # k = 0.45
    half.update(a0)
    assert half.update(a1)[0, 0] == 140  # 0.55 * 255 = 140.25
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="smoothing"):
            ConfidenceSmoother(bad)


def test_view_smoothing_follows_the_views_rules():
    """js/src/view-effects.js onResult: a confidence is smoothed in every mode (its classes
    come from it, so no class mask is steadied); a class mask is steadied, and its person
    alpha smoothed only while an effect is on."""
    from types import SimpleNamespace as Seg

    labels = list(VOC_CLASSES)
    person = VOC_CLASSES.index("person")
    m1 = np.array([[0, person, person, 3]], np.uint8)
    m2 = np.array([[person, person, 0, 3]], np.uint8)
    view = ViewSmoothing(1.0)
    c1, c2 = np.array([[0, 200, 255, 10]], np.uint8), np.array([[255, 200, 0, 10]], np.uint8)
    reference = ConfidenceSmoother(1.0)
    for conf in (c1, c2):
        alpha, shown = view.for_result(Seg(mask=m1, labels=labels, confidence=conf), "filled", 1.0)
        assert shown is None
        np.testing.assert_array_equal(alpha, reference.update(conf))
    steadier = ClassSteadier()
    for mask in (m1, m2):
        seg = Seg(mask=mask, labels=labels, confidence=None)
        alpha, shown = view.for_result(seg, "filled", 1.0)
        assert alpha is None
        np.testing.assert_array_equal(shown, steadier.update(mask, 1.0))
    assert shown.tolist() == m1.tolist()  # one result alone changes no class
    alpha, shown = view.for_result(Seg(mask=m2, labels=labels, confidence=None), "blur", 0.0)
    np.testing.assert_array_equal(alpha, person_alpha(m2, None, person))  # raw at 0
    assert shown is m2


def test_smoothing_damps_flicker_at_an_edge():
    """An edge that flips every result swings 255 levels unsmoothed, 255 (1 - k) / (1 + k)
    smoothed (k = 0.9 * smoothing): 97 at the default 0.5, 13 at 1."""
    on = np.full((1, 1), 255, np.uint8)
    off = np.zeros((1, 1), np.uint8)
    for smoothing in (0.0, 0.5, 1.0):
        k = 0.9 * smoothing
        s = ConfidenceSmoother(smoothing)
        vals = [int(s.update(on if i % 2 else off)[0, 0]) for i in range(200)]
        swing = max(abs(a - b) for a, b in itertools.pairwise(vals[150:]))
        assert abs(swing - 255 * (1 - k) / (1 + k)) <= 1, (smoothing, swing)


def test_background_setting_forms(tmp_path):
    assert parse_background("#0F0") == "#00ff00"
    assert parse_background("#12ab34") == "#12ab34"
    assert parse_background((1, 2, 255)) == "#0102ff"
    assert parse_background([np.uint8(3), 4, 5]) == "#030405"
    img = np.zeros((5, 7, 3), np.uint8)
    img[0, 0] = (255, 0, 0)
    out = parse_background(img)
    assert out.shape == (5, 7, 3)
    assert not out.flags.writeable
    rgba = np.zeros((5, 7, 4), np.uint8)
    assert parse_background(rgba).shape == (5, 7, 3)
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    for value in (path, str(path)):
        loaded = parse_background(value)
        np.testing.assert_array_equal(loaded, img)  # RGB, not OpenCV's BGR
    big = parse_background(np.zeros((3000, 4000, 3), np.uint8))
    assert big.shape == (1440, 1920, 3)  # downscaled once for the view


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("#12345", "is not a '#rrggbb' colour"),
        ("#gggggg", "is not a '#rrggbb' colour"),
        ((1, 2), "got \\(1, 2\\)"),
        ((0, 0, 256), "got"),
        ((True, 0, 0), "got"),
        ("no/such/file.png", "is not a colour or an existing file"),
        (np.zeros((4, 4), np.uint8), "array of uint8 \\(4, 4\\)"),
        (np.zeros((4, 4, 3), np.float32), "array of float32"),
        (np.zeros((0, 4, 3), np.uint8), "must not be empty"),
        (12, "got int"),
    ],
)
def test_bad_background_says_what_is_wrong(value, match):
    with pytest.raises(ValueError, match=match):
        parse_background(value)


def test_a_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not an image OpenCV can read"):
        parse_background(path)
