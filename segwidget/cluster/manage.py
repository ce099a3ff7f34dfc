"""Deploy, inspect and shut down the model tier (what ``segwidget cluster ...`` runs)."""

from __future__ import annotations

import contextlib
from typing import Any

from . import connect
from .config import APP_PREFIX, DeployOptions, app_name, deployment_options, engine_args
from .stats import STATS_ACTOR, STATS_NAMESPACE, with_age


def deploy(opts: DeployOptions, timeout_s: float = 600.0) -> dict[str, dict[str, Any]]:
    """Run one application per profile (replacing any with its name); wait until they serve.

    The replicas outlive this process: Serve keeps them until ``shutdown`` or the cluster
    stops. Serve's HTTP proxy stays off: sessions call the replicas through handles.
    """
    from ray import serve

    from .deployment import SegmentationReplica

    serve.start(proxy_location="Disabled")
    names = []
    for profile in opts.profiles:
        app = SegmentationReplica.options(**deployment_options(opts)).bind(
            **engine_args(opts, profile)
        )
        name = app_name(profile)
        serve.run(app, name=name, route_prefix=None, blocking=False)
        names.append(name)
    want = opts.autoscale[0] if opts.autoscale else opts.replicas
    for name in names:
        connect.wait_running(name, want, timeout_s)
    return connect.serve_state(names)


def status() -> dict[str, Any]:
    """Applications, replica counts by state, and every replica's latest counters."""
    return {"applications": connect.serve_state(), "replicas": with_age(connect.stats_rows())}


def shutdown(profiles: list[str] | None = None) -> list[str]:
    """Delete the segwidget applications (all, or those of ``profiles``); returns their names."""
    import ray
    from ray import serve

    names = [n for n in connect.serve_state() if not profiles or n in map(app_name, profiles)]
    for name in names:
        serve.delete(name)
    if not profiles or not [n for n in connect.serve_state() if n.startswith(APP_PREFIX)]:
        with contextlib.suppress(ValueError):  # ValueError: no replica ever reported
            ray.kill(ray.get_actor(STATS_ACTOR, namespace=STATS_NAMESPACE))
    return names
