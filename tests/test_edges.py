"""segwidget.edges (smooth mask edges, design decision 18): the synthetic disc against the
true circle, the browser's js/src/edges.js bit for bit, and steadiness on a noisy still clip."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess

import numpy as np
import pytest

from segwidget import edges
from segwidget.postprocess import upsample_mask
from tests.conftest import ROOT

EDGES_JS = ROOT / "js" / "src" / "edges.js"

# ------------------------------------------------------------ the synthetic disc

SCALE, RADIUS, CENTRE, SIZE = 5, 24, (32.3, 31.7), 64


def crossings(cov: np.ndarray) -> np.ndarray:
    """Where a coverage image (0..1) crosses 0.5 along rows and columns, interpolated
    linearly between pixel centres: ``(x, y)`` points in pixel units."""
    pts = []
    for img, swap in ((cov, False), (cov.T, True)):
        a, b = img[:, :-1], img[:, 1:]
        ys, xs = np.nonzero((a < 0.5) != (b < 0.5))
        f = (0.5 - a[ys, xs]) / (b[ys, xs] - a[ys, xs])
        p = np.stack([xs + 0.5 + f, ys + 0.5], 1)
        pts.append(p[:, ::-1] if swap else p)
    return np.concatenate(pts)


def disc_error(cov: np.ndarray) -> tuple[float, float]:
    """RMS and max distance (display px) of the drawn boundary from the true circle."""
    p = crossings(cov)
    d = np.hypot(p[:, 0] - CENTRE[0] * SCALE, p[:, 1] - CENTRE[1] * SCALE) - RADIUS * SCALE
    return float(np.sqrt(np.mean(d**2))), float(np.abs(d).max())


def disc(ramp: float | None = None) -> np.ndarray:
    """The disc at mask resolution: a hard 0/1 mask, or a soft 0..255 one with a linear
    ramp ``ramp`` mask px wide."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    dist = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
    if ramp is None:
        return (dist <= RADIUS).astype(np.uint8)
    return np.floor(255 * np.clip(0.5 - (dist - RADIUS) / ramp, 0, 1) + 0.5).astype(np.uint8)


def field_coverage(field: edges.EdgeField) -> np.ndarray:
    """The disc class's share per display pixel (class 1)."""
    return np.where(field.k1 == 1, field.t, 255 - field.t) / 255.0


HARD = (1.1, 2.2)  # the bars: display px RMS, max
SOFT = (0.7, 1.3)


def test_nearest_scaling_misses_the_bar():
    """The staircase the edges replace (the bar would catch a regression to it)."""
    n = SIZE * SCALE
    rms, worst = disc_error(upsample_mask(disc(), n, n).astype(float))
    assert rms > HARD[0]
    assert worst > HARD[1]


def test_hard_disc_follows_the_circle():
    n = SIZE * SCALE
    mask = disc()
    rms, worst = disc_error(field_coverage(edges.edge_field(mask, None, n, n)))
    assert rms <= HARD[0], (rms, worst)
    assert worst <= HARD[1], (rms, worst)
    rms, worst = disc_error(edges.mask_at(mask, None, n, n).astype(float))
    assert rms <= HARD[0], (rms, worst)
    assert worst <= HARD[1], (rms, worst)
    alpha = edges.alpha_at(edges.class_alpha(mask, 1), n, n) / 255.0  # blur / replace
    rms, worst = disc_error(alpha)
    assert rms <= HARD[0], (rms, worst)
    assert worst <= HARD[1], (rms, worst)


def test_soft_disc_follows_the_circle():
    n = SIZE * SCALE
    soft = disc(1.5)
    mask = (soft >= 128).astype(np.uint8)
    for cov in (
        field_coverage(edges.edge_field(mask, soft, n, n)),
        edges.mask_at(mask, soft, n, n).astype(float),
        edges.alpha_at(soft, n, n) / 255.0,
    ):
        rms, worst = disc_error(cov)
        assert rms <= SOFT[0], (rms, worst)
        assert worst <= SOFT[1], (rms, worst)


def test_edges_are_thin_and_anti_aliased():
    """Away from the boundary a pixel is one class; the mixed band is a pixel or two wide."""
    n = SIZE * SCALE
    f = edges.edge_field(disc(), None, n, n)
    mixed = (f.t < 255).sum()
    perimeter = 2 * np.pi * RADIUS * SCALE
    assert 0.5 * perimeter < mixed < 2.5 * perimeter
    assert set(np.unique(f.k1)) == {0, 1}
    assert (f.line > 0).sum() < 3.5 * perimeter


def test_bilinear_taps_are_centre_aligned():
    i0, i1, f = edges.bilinear_taps(4, 8)  # 2x: output centres at source 0.25 steps
    assert i0.tolist() == [0, 0, 0, 1, 1, 2, 2, 3]
    assert f.tolist() == [0, 64, 192, 64, 192, 64, 192, 0]
    assert (i1 == np.minimum(i0 + 1, 3)).all()
    i0, _, f = edges.bilinear_taps(5, 5)  # same size: the identity
    assert i0.tolist() == list(range(5))
    assert not f.any()


def test_mask_at_same_size_and_soft_threshold():
    mask = np.array([[0, 1], [2, 2]], np.uint8)
    assert (edges.mask_at(mask, None, 2, 2) == mask).all()
    soft = np.array([[127, 128]], np.uint8)
    assert edges.mask_at(soft >= 128, soft, 1, 2).tolist() == [[0, 1]]


# ------------------------------------------------------- parity with edges.js

_NODE = r"""
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [dir, edgesPath] = process.argv.slice(2);
const e = await import(pathToFileURL(edgesPath).href);
const cfg = JSON.parse(readFileSync(`${dir}/cfg.json`, "utf8"));
const read = (name) => new Uint8Array(readFileSync(`${dir}/${name}`));
const mask = { data: read("mask.bin"), width: cfg.mw, height: cfg.mh };
const soft = { data: read("soft.bin"), width: cfg.mw, height: cfg.mh };
cfg.sizes.forEach(([W, H], i) => {
  for (const [name, s] of [["hard", null], ["soft", soft]]) {
    const f = e.edgeField(mask, s, W, H);
    writeFileSync(`${dir}/${name}${i}.bin`, Buffer.concat([f.k1, f.k2, f.t, f.line]));
  }
  writeFileSync(`${dir}/alpha${i}.bin`, e.alphaAt(soft, W, H));
  writeFileSync(`${dir}/heat${i}.bin`, e.heatLevel(soft, W, H));
});
writeFileSync(`${dir}/class.bin`, e.classAlpha(mask, 3));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    ("mw", "mh", "sizes"),
    [
        (37, 29, [(37, 29), (185, 145), (203, 151), (100, 50), (16, 12)]),  # 1x, 5x, odd, ...
        (40, 30, [(40, 30), (80, 60)]),  # a width of whole words: the 1x vote's fast path
    ],
)
def test_bit_exact_with_edges_js(tmp_path, mw, mh, sizes):
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 6, (5, 6)).astype(np.uint8)
    mask = np.kron(blocks, np.ones((7, 7), np.uint8))[:mh, :mw]
    mask[rng.random((mh, mw)) < 0.05] = 200  # specks and a high class value
    mask = np.ascontiguousarray(mask)
    soft = rng.integers(0, 256, (mh, mw)).astype(np.uint8)
    (tmp_path / "mask.bin").write_bytes(mask.tobytes())
    (tmp_path / "soft.bin").write_bytes(soft.tobytes())
    (tmp_path / "cfg.json").write_text(json.dumps({"mw": mw, "mh": mh, "sizes": sizes}))
    script = tmp_path / "edges.mjs"
    script.write_text(_NODE)
    subprocess.run(["node", str(script), str(tmp_path), str(EDGES_JS)], check=True, timeout=120)
    for i, (w, h) in enumerate(sizes):
        for name, s in (("hard", None), ("soft", soft)):
            js = np.frombuffer((tmp_path / f"{name}{i}.bin").read_bytes(), np.uint8)
            js = js.reshape(4, h, w)
            ours = edges.edge_field(mask, s, h, w)
            for j, part in enumerate(ours):
                np.testing.assert_array_equal(part, js[j], err_msg=f"{name} {w}x{h} {j}")
        js = np.frombuffer((tmp_path / f"alpha{i}.bin").read_bytes(), np.uint8).reshape(h, w)
        np.testing.assert_array_equal(edges.alpha_at(soft, h, w), js)
        js = np.frombuffer((tmp_path / f"heat{i}.bin").read_bytes(), np.uint8).reshape(h, w)
        np.testing.assert_array_equal(edges.heat_level(soft, h, w), js)
    js = np.frombuffer((tmp_path / "class.bin").read_bytes(), np.uint8).reshape(mh, mw)
    np.testing.assert_array_equal(edges.class_alpha(mask, 3), js)


# ------------------------------------------------------- steadiness over time


def test_class_steadier_matches_the_browser_rule():
    from segwidget.effects import ClassSteadier

    s = ClassSteadier()
    a = np.array([[0, 1, 2]], np.uint8)
    assert s.update(a) is a
    b = np.array([[1, 1, 0]], np.uint8)
    assert s.update(b).tolist() == [[0, 1, 2]]  # one result alone changes nothing
    assert s.update(b).tolist() == [[1, 1, 0]]  # two in a row do
    assert s.update(a, 0.0) is a  # off: the raw mask


def flicker(masks: list[np.ndarray]) -> float:
    """Mean fraction of pixels whose class changes between consecutive results."""
    return float(np.mean([(p != q).mean() for p, q in itertools.pairwise(masks)]))


def test_flicker_on_a_still_noisy_clip(photos):
    """A still scene with camera noise (Gaussian, sigma 8 levels, new each frame) through the
    person profile: classes changing between consecutive results, before (the raw mask) and
    after (the smoothed confidence the views draw from, and the class steadier), at the
    default smoothing."""
    from segwidget import Engine
    from segwidget.effects import DEFAULT_SMOOTHING, ClassSteadier, ConfidenceSmoother

    engine = Engine("person")
    rng = np.random.default_rng(19)
    still = photos["astronaut"].astype(np.int16)
    raw, smooth, steady = [], [], []
    smoother, steadier = ConfidenceSmoother(DEFAULT_SMOOTHING), ClassSteadier()
    for _ in range(12):
        noisy = np.clip(still + rng.normal(0, 8, still.shape), 0, 255).astype(np.uint8)
        res = engine.segment(noisy)
        raw.append(res.mask)
        smooth.append((smoother.update(res.confidence) >= 128).astype(np.uint8))
        steady.append(steadier.update(res.mask, DEFAULT_SMOOTHING))
    before, after_soft, after_steady = flicker(raw), flicker(smooth), flicker(steady)
    print({"before": before, "smoothed confidence": after_soft, "class steadier": after_steady})
    assert before > 0  # the noise does move some edge pixels
    assert after_soft < 0.6 * before
    assert after_steady < 0.6 * before


def test_smoothing_lag_on_a_moving_person_is_about_a_result(photos):
    """The person moving 3 px per result across a 640x480 frame: at the default smoothing,
    the smoothed mask the views draw trails the raw one by about one result (the moving
    average's k / (1 - k) = 0.8 inside the probability's ramp): a few pixels, bounded here."""
    import cv2

    from segwidget import Engine
    from segwidget.effects import DEFAULT_SMOOTHING, ConfidenceSmoother

    engine = Engine("person")
    sprite = cv2.resize(photos["astronaut"], (400, 400), interpolation=cv2.INTER_AREA)
    smoother = ConfidenceSmoother(DEFAULT_SMOOTHING)
    step, lags = 3, []
    for j in range(16):
        frame = np.full((480, 640, 3), 200, np.uint8)
        frame[80:, 20 + j * step : 420 + j * step] = sprite
        res = engine.segment(frame)
        raw = res.mask_at(480, 640) == 1
        smooth = edges.mask_at(res.mask, smoother.update(res.confidence), 480, 640) == 1
        if j > 5:
            lags.append(np.nonzero(raw)[1].mean() - np.nonzero(smooth)[1].mean())
    lag = float(np.mean(lags)) / step
    print({"lag_results": round(lag, 2)})
    assert 0 <= lag < 1.5
