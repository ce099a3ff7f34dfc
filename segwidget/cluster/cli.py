"""``segwidget cluster deploy | status | shutdown | config``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ClusterUnavailableError
from ..hardware import BACKENDS, DEVICES
from ..profiles import PROFILES
from . import connect
from .config import DeployOptions, dump_config, parse_autoscale, serve_config
from .stats import table

NEEDS_RAY = "segwidget cluster needs Ray Serve: pip install 'segwidget[cluster]'"


def add_parser(sub: Any) -> None:
    """Add the ``cluster`` command and its subcommands to ``segwidget``'s subparsers."""
    cluster = sub.add_parser(
        "cluster",
        help="run the model tier on a Ray Serve cluster",
        description="Deploy the model tier (one Ray Serve application per profile, replicas "
        "batching frames across clients) and inspect or stop it. Sessions then use it with "
        "`segwidget serve --cluster ADDR` or SegWidget(cluster=ADDR). See docs/SCALING.md.",
    )
    cluster.set_defaults(func=lambda _args: cluster.print_help() or 0)
    cmds = cluster.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    deploy = cmds.add_parser("deploy", help="deploy (or update) the model tier")
    _add_deploy_options(deploy)
    _add_address(deploy)
    deploy.set_defaults(func=_deploy)

    status = cmds.add_parser("status", help="applications, replicas and their counters")
    _add_address(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)

    shutdown = cmds.add_parser("shutdown", help="delete the segwidget applications")
    shutdown.add_argument("--profile", action="append", choices=list(PROFILES), help="only these")
    _add_address(shutdown)
    shutdown.set_defaults(func=_shutdown)

    config = cmds.add_parser(
        "config", help="write a Serve config file for `serve deploy FILE` instead of deploying"
    )
    _add_deploy_options(config)
    config.add_argument("-o", "--output", help="file to write (default: print it)")
    config.set_defaults(func=_config)


def _add_address(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster: auto, HOST:6379 or ray://HOST:10001 (default: $SEGWIDGET_CLUSTER, "
        "else auto, the cluster this machine joined with `ray start`)",
    )


def _add_deploy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", action="append", choices=list(PROFILES), help="default: fast")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=int, default=1, help="fixed replicas per profile")
    scale.add_argument("--autoscale", metavar="MIN:MAX", help="autoscale between MIN and MAX")
    p.add_argument("--gpus-per-replica", type=float, default=0.0, help="e.g. 1, or 0.5 to share")
    p.add_argument("--cpus-per-replica", type=float, default=1.0)
    p.add_argument("--max-batch", type=int, default=DeployOptions.max_batch)
    p.add_argument("--batch-wait-ms", type=float, default=DeployOptions.batch_wait_ms)
    p.add_argument("--weights", default="pretrained", help="pretrained, random or a path")
    p.add_argument("--backend", default="auto", choices=BACKENDS)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--input-size", type=int, help="model long side (default: the profile's)")


def options_from_args(args: argparse.Namespace) -> DeployOptions:
    """DeployOptions from the parsed flags (ValueError with a clear message if invalid)."""
    return DeployOptions(
        profiles=tuple(args.profile or ["fast"]),
        replicas=args.replicas,
        autoscale=parse_autoscale(args.autoscale) if args.autoscale else None,
        gpus_per_replica=args.gpus_per_replica,
        cpus_per_replica=args.cpus_per_replica,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        weights=args.weights,
        backend=args.backend,
        device=args.device,
        input_size=args.input_size,
    )


def _address(args: argparse.Namespace) -> str:
    return args.address or connect.cluster_from_env() or "auto"


def _connect(args: argparse.Namespace, what: str) -> str | None:
    if importlib.util.find_spec("ray") is None:
        print(NEEDS_RAY, file=sys.stderr)
        return None
    address = _address(args)
    try:
        connect.ensure_ray(address)
    except ClusterUnavailableError as exc:
        print(f"segwidget cluster {what}: {exc}", file=sys.stderr)
        return None
    return address


def _deploy(args: argparse.Namespace) -> int:
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        print(f"segwidget cluster deploy: {exc}", file=sys.stderr)
        return 2
    address = _connect(args, "deploy")
    if address is None:
        return 1
    from .manage import deploy

    print(f"Deploying {', '.join(opts.profiles)} to {address} ...", flush=True)
    try:
        state = deploy(opts)
    except Exception as exc:
        print(f"segwidget cluster deploy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name, s in state.items():
        print(f"  {name}: {s['status']}, {s['running']} replica(s) running")
    print(f"\nSessions use it through segwidget.cluster.client.RemoteEngine(profile, {address!r})")
    return 0


def _status(args: argparse.Namespace) -> int:
    address = _connect(args, "status")
    if address is None:
        return 1
    from .manage import status

    state = status()
    if args.json:
        print(json.dumps(state, indent=2, default=str))
        return 0
    apps = state["applications"]
    if not apps:
        print(f"No segwidget application on {address}: run `segwidget cluster deploy`.")
    for name, s in apps.items():
        states = ", ".join(f"{n} {k}" for k, n in s["replica_states"].items()) or "none"
        print(f"{name}: {s['status']} (replicas: {states}) {s['message'] or ''}".rstrip())
    print("\nReplicas (latest report each):")
    print(table(state["replicas"]))
    return 0


def _shutdown(args: argparse.Namespace) -> int:
    address = _connect(args, "shutdown")
    if address is None:
        return 1
    from .manage import shutdown

    names = shutdown(args.profile)
    print(f"Deleted {', '.join(names)}." if names else f"No segwidget application on {address}.")
    return 0


def _config(args: argparse.Namespace) -> int:
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        print(f"segwidget cluster config: {exc}", file=sys.stderr)
        return 2
    text = dump_config(serve_config(opts))
    if args.output:
        Path(args.output).write_text(text)
        print(f"Wrote {args.output}: deploy it with `serve deploy {args.output}`.")
    else:
        print(text, end="")
    return 0
