"""Shared fixtures: real photos, a persistent export cache, pooled engines with random weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
# Exports are keyed by weights and library versions, so a cache kept between runs is safe
# and saves the ONNX export time on every run after the first.
os.environ.setdefault("SEGWIDGET_CACHE_DIR", str(ROOT / ".cache" / "segwidget-tests"))

# Property-based tests (tests/test_fuzz_*.py): a deterministic run by default, so CI and a
# fresh clone see the same examples; SEGWIDGET_FUZZ_EXAMPLES=5000 (say) explores more, and
# SEGWIDGET_FUZZ_RANDOM=1 draws new examples each run.
settings.register_profile(
    "segwidget",
    max_examples=int(os.environ.get("SEGWIDGET_FUZZ_EXAMPLES", "200")),
    derandomize=not os.environ.get("SEGWIDGET_FUZZ_RANDOM"),
    deadline=None,  # a loaded machine must not fail a test on time
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("segwidget")


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real RGB photos shipped by scikit-image."""
    return _photos()


@pytest.fixture(scope="session")
def photo(photos) -> np.ndarray:
    return photos["astronaut"]


@pytest.fixture(scope="session")
def fast_engine():
    """The fast profile with seeded random weights on the auto backend (CPU: ONNX Runtime)."""
    from segwidget import get_engine

    return get_engine("fast", weights="random")


@pytest.fixture
def make_widget():
    """``make_widget(**kwargs)``: a ``CapturingWidget`` (random weights unless given), ready
    for frames unless ``wait_ready=False``; every one made is closed after the test."""
    from tests.widget_doubles import CapturingWidget

    made = []

    def make(*args, wait_ready=True, **kwargs):
        kwargs.setdefault("weights", "random")
        w = CapturingWidget(*args, **kwargs)
        made.append(w)
        if wait_ready:
            w.outbox.wait(lambda c: c["type"] == "ready")
        return w

    yield make
    for w in made:
        w.close()
