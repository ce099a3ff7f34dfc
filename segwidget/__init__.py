"""segwidget: real-time webcam semantic segmentation for Jupyter and the browser.

The public names are imported lazily (PEP 562), so ``import segwidget.jupyter_nodelay`` in a
Jupyter Server, or the CLI's ``--help``, does not pay for torch and the model code.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("segwidget")
except PackageNotFoundError:  # running from a source checkout
    __version__ = "0.0.0+local"

_EXPORTS = {
    "PROFILES": ".profiles",
    "BackendUnavailableError": ".errors",
    "Engine": ".engine",
    "FrameError": ".errors",
    "ModelsNotInstalledError": ".errors",
    "SegResult": ".engine",
    "SegWidget": ".widget",
    "SegwidgetError": ".errors",
    "WeightsUnavailableError": ".errors",
    "clear_engines": ".engine",
    "get_engine": ".engine",
}

if TYPE_CHECKING:
    from .engine import Engine, SegResult, clear_engines, get_engine
    from .errors import (
        BackendUnavailableError,
        FrameError,
        ModelsNotInstalledError,
        SegwidgetError,
        WeightsUnavailableError,
    )
    from .profiles import PROFILES
    from .widget import SegWidget


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segwidget' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "PROFILES",
    "BackendUnavailableError",
    "Engine",
    "FrameError",
    "ModelsNotInstalledError",
    "SegResult",
    "SegWidget",
    "SegwidgetError",
    "WeightsUnavailableError",
    "__version__",
    "clear_engines",
    "get_engine",
]
