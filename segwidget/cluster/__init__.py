"""The model tier on Ray Serve (design decision 14): replicas holding engines, batching
frames from many sessions; ``RemoteEngine`` is what sessions use instead of a local engine.

Importing this package imports no Ray: only :mod:`.deployment` and :mod:`.connect`'s
functions do, when a cluster is actually used. Install with ``pip install 'segwidget[cluster]'``.
"""

from __future__ import annotations

from .config import DeployOptions, app_name

__all__ = ["DeployOptions", "app_name"]
