"""Connecting to a Ray cluster and reading its Serve state (Ray imported lazily, here only).

``ADDR`` is what ``ray.init(address=...)`` takes: ``auto`` (the cluster this node belongs to:
``ray start --address HEAD:6379`` first), ``HOST:6379`` or ``ray://HOST:10001`` (Ray Client).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

from ..errors import ClusterUnavailableError
from .config import APP_PREFIX, DEPLOYMENT_NAME

log = logging.getLogger(__name__)

ENV_VAR = "SEGWIDGET_CLUSTER"
PROBE_TIMEOUT_S = 3.0
NAMESPACE = "segwidget"

_lock = threading.Lock()


def cluster_from_env(value: str | None = None) -> str | None:
    """``value`` if given, else ``$SEGWIDGET_CLUSTER``; None or "" means: no cluster."""
    value = value if value is not None else os.environ.get(ENV_VAR)
    return value.strip() or None if value else None


def probe(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast (TCP connect) when ``HOST:PORT`` or ``ray://HOST:PORT`` does not answer.

    ``ray.init`` itself can wait a minute on a dead address; this names it within seconds.
    """
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        raise ClusterUnavailableError(
            f"cluster address {address!r} is not HOST:PORT, ray://HOST:PORT or 'auto'",
            recoverable=False,
        )
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterUnavailableError(
            f"cannot reach the Ray cluster at {address}: {exc} "
            "(is `ray start --head` running there, and the port open?)",
            recoverable=False,
        ) from None


def ensure_ray(address: str) -> None:
    """Connect this process to the cluster at ``address`` once (a process has one cluster)."""
    import ray

    with _lock:
        if ray.is_initialized():
            current = current_address()
            if not same_cluster(address, current):
                raise ClusterUnavailableError(
                    f"cannot use the Ray cluster at {address}: this process is connected to "
                    f"the one at {current} (a process talks to one cluster)",
                    recoverable=False,
                )
            return
        probe(address)
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.WARNING,
                ignore_reinit_error=True,
            )
        except Exception as exc:
            hint = " (start one with `ray start --head`)" if address == "auto" else ""
            raise ClusterUnavailableError(
                f"cannot connect to the Ray cluster at {address!r}: {exc}{hint}", recoverable=False
            ) from None


def same_cluster(address: str, current: str | None) -> bool:
    """Whether ``address`` names the cluster at GCS address ``current`` (best effort)."""
    if address in ("auto", "local") or address.startswith("ray://") or not current:
        return True

    def resolved(addr: str) -> tuple[str, str]:
        host, _, port = addr.rpartition(":")
        try:
            return socket.gethostbyname(host), port
        except OSError:
            return host, port

    return resolved(address) == resolved(current)


def start_local(num_cpus: int, attempts: int = 3) -> None:
    """Start a Ray cluster inside this process (tests, benchmarks), CPU only.

    On a loaded small CPU Ray's raylet gives up within 15-30 s when its agents start slowly;
    another attempt then usually works.
    """
    import ray

    os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")
    for attempt in range(attempts):
        try:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                # A local test cluster talks over loopback only, not the machine's own address.
                _node_ip_address="127.0.0.1",
                namespace=NAMESPACE,
                log_to_driver=False,
            )
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts - 1:
                raise
            log.warning("starting Ray failed (attempt %d of %d); retrying", attempt + 1, attempts)


def current_address() -> str | None:
    import ray

    try:
        return ray.get_runtime_context().gcs_address
    except Exception:
        return None


def app_handle(app: str, address: str) -> Any:
    """The ``DeploymentHandle`` of a running segwidget application, or a clear error."""
    from ray import serve

    try:
        return serve.get_app_handle(app)
    except Exception as exc:
        profile = app.removeprefix(APP_PREFIX)
        raise ClusterUnavailableError(
            f"the Ray cluster at {address} serves no {app!r} application ({exc}); run "
            f"`segwidget cluster deploy --profile {profile} --address {address}`",
            recoverable=False,
        ) from None


def serve_state(app_names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per segwidget application: its status and replica counts by state (RUNNING, ...)."""
    from ray import serve

    out: dict[str, dict[str, Any]] = {}
    for name, app in serve.status().applications.items():
        if not name.startswith(APP_PREFIX) or (app_names and name not in app_names):
            continue
        dep = app.deployments.get(DEPLOYMENT_NAME)
        states = {
            str(getattr(k, "value", k)): v for k, v in (dep.replica_states if dep else {}).items()
        }
        out[name] = {
            "status": str(getattr(app.status, "value", app.status)),
            "deployment_status": str(getattr(dep.status, "value", dep.status)) if dep else None,
            "message": (dep.message if dep else "") or app.message,
            "replica_states": states,
            "running": states.get("RUNNING", 0),
        }
    return out


def stats_rows() -> list[dict[str, Any]]:
    """Every replica's latest report on the stats board (empty if none has reported)."""
    import ray

    from .stats import STATS_ACTOR, STATS_NAMESPACE

    try:
        board = ray.get_actor(STATS_ACTOR, namespace=STATS_NAMESPACE)
    except ValueError:
        return []
    return ray.get(board.snapshot.remote(), timeout=10)


def wait_running(app: str, replicas: int, timeout_s: float = 120.0) -> dict[str, Any]:
    """Poll ``serve.status()`` until ``app`` has ``replicas`` RUNNING replicas (or time out)."""
    deadline = time.monotonic() + timeout_s
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = serve_state([app]).get(app, {})
        if state.get("running", 0) >= replicas and state.get("status") == "RUNNING":
            return state
        time.sleep(0.2)  # polling Serve's controller: there is no event to wait on
    raise TimeoutError(f"{app} did not reach {replicas} running replicas in {timeout_s}s: {state}")
