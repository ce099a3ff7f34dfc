"""The alignment figure of the far-from-the-kernel bench (segwidget/bench/harness/glide.py)
on synthetic screenshots: a mask on the person covers her, a mask that trails her leaves
her leading edge bare."""

from __future__ import annotations

import numpy as np

from segwidget.bench.harness.glide import GREEN, MAGENTA, alignment, make_glide_clip


def test_alignment_counts_the_bare_person_pixels(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(60, 200, (100, 100, 3), dtype=np.uint8)
    photo[..., 0] = rng.integers(150, 230, (100, 100))  # far from green and from magenta
    photo[..., 2] = rng.integers(60, 150, (100, 100))
    person = np.zeros((100, 100), bool)
    person[20:90, 30:70] = True
    clip = make_glide_clip(tmp_path / "g.y4m", photo, person, ["background", "person"], side=200)
    assert clip.person_px == int((person.repeat(2, 0).repeat(2, 1)).sum())
    frame = clip.video.frames[10].copy()
    is_person = np.abs(frame.astype(int) - GREEN).max(axis=-1) > 60
    assert abs(int(is_person.sum()) - clip.person_px) < 0.02 * clip.person_px

    shot = frame.copy()
    shot[is_person] = MAGENTA  # the mask exactly on her
    assert alignment(shot, clip)["covered"] > 0.98

    trailing = frame.copy()
    behind = np.roll(is_person, -20, axis=1)  # a mask 20 px behind her (she moves right)
    trailing[behind] = MAGENTA
    got = alignment(trailing, clip)
    assert 0.5 < got["covered"] < 0.95
    bare = is_person & ~behind
    assert abs(got["bare_px"] - int(bare.sum())) <= 0.02 * clip.person_px

    # shown larger (the stage scales the video): the same share
    big = trailing.repeat(2, axis=0).repeat(2, axis=1)
    assert abs(alignment(big, clip)["covered"] - got["covered"]) < 0.02
    assert alignment(np.zeros((480, 640, 3), np.uint8), clip) is None  # no picture yet
