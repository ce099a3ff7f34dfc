"""segwidget: real-time webcam semantic segmentation for Jupyter and the browser."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .engine import Engine, SegResult, clear_engines, get_engine
from .errors import (
    BackendUnavailableError,
    FrameError,
    SegwidgetError,
    WeightsUnavailableError,
)
from .profiles import PROFILES

try:
    __version__ = version("segwidget")
except PackageNotFoundError:  # running from a source checkout
    __version__ = "0.0.0+local"

__all__ = [
    "PROFILES",
    "BackendUnavailableError",
    "Engine",
    "FrameError",
    "SegResult",
    "SegwidgetError",
    "WeightsUnavailableError",
    "__version__",
    "clear_engines",
    "get_engine",
]
