"""Profiles with several shipped models, each at a fixed input size: one backend per size."""

from __future__ import annotations

import numpy as np


class ShapeDispatch:
    """Runs each frame on the backend built for its input size (the engine sizes frames to
    one of them, so the choice of model lives in the profile, not here)."""

    def __init__(self, backends: dict[tuple[int, int], object]):
        self.backends = backends
        first = next(iter(backends.values()))
        self.name = getattr(first, "name", "")
        self.providers = getattr(first, "providers", None)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        backend = self.backends.get(tuple(x.shape[2:]))
        if backend is None:
            sizes = ", ".join(f"{h}x{w}" for h, w in self.backends)
            raise ValueError(f"no model takes a {x.shape[2]}x{x.shape[3]} input (sizes: {sizes})")
        return backend(x)
