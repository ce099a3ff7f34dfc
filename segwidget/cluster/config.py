"""What a model-tier deployment looks like: options, Serve deployment options, the Serve config.

Pure data (no Ray import): ``segwidget cluster deploy`` passes :func:`deployment_options` to
Ray Serve, ``segwidget cluster config`` writes :func:`serve_config` for ``serve deploy``, and
tests inspect both (GPU placement included) without a GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..hardware import BACKENDS, DEVICES
from ..profiles import PROFILES

APP_PREFIX = "segwidget-"
DEPLOYMENT_NAME = "SegmentationReplica"
IMPORT_PATH = "segwidget.cluster.deployment:build_app"


def app_name(profile: str) -> str:
    """The Serve application serving ``profile`` (``segwidget-fast``, ...)."""
    return APP_PREFIX + profile


@dataclass(frozen=True)
class DeployOptions:
    """One deployment per profile; every field is a ``segwidget cluster deploy`` flag.

    ``autoscale`` (min, max) replaces ``replicas``. ``max_batch`` and ``batch_wait_ms`` are
    ``@serve.batch``'s ``max_batch_size`` and ``batch_wait_timeout_s``: on 2 CPU cores a
    batch of 8 fast-profile frames ran in the time of 8 single frames (no gain, no loss), so
    the wait is kept short; on a GPU a batch costs far less than its frames one by one.
    """

    profiles: tuple[str, ...] = ("fast",)
    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    max_batch: int = 8
    batch_wait_ms: float = 10.0
    max_ongoing_requests: int | None = None  # default: 2 x max_batch
    weights: str = "pretrained"
    backend: str = "auto"
    device: str = "auto"
    input_size: int | None = None
    cache_dir: str | None = None
    # Serve checks replicas every 10 s by default; a dead one is replaced sooner with 2 s.
    health_check_period_s: float = 2.0
    health_check_timeout_s: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)  # more Serve deployment options

    def __post_init__(self) -> None:
        for p in self.profiles:
            if p not in PROFILES:
                raise ValueError(f"unknown profile {p!r}; expected any of {', '.join(PROFILES)}")
        if not self.profiles:
            raise ValueError("at least one profile is needed")
        if not isinstance(self.replicas, int) or self.replicas < 1:
            raise ValueError(f"replicas must be an integer >= 1, got {self.replicas!r}")
        if self.autoscale is not None:
            lo, hi = self.autoscale
            if not 0 <= lo <= hi or hi < 1:
                raise ValueError(f"autoscale needs 0 <= MIN <= MAX and MAX >= 1, got {lo}:{hi}")
        if self.gpus_per_replica < 0 or self.cpus_per_replica < 0:
            raise ValueError("gpus and cpus per replica must be >= 0")
        if not 1 <= self.max_batch <= 256:
            raise ValueError(f"max_batch must be 1 to 256, got {self.max_batch}")
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be 0 to 1000, got {self.batch_wait_ms}")
        if self.max_ongoing_requests is not None and self.max_ongoing_requests < self.max_batch:
            raise ValueError("max_ongoing_requests must be >= max_batch, or no batch can fill")
        if self.backend not in BACKENDS or self.device not in DEVICES:
            raise ValueError(f"backend must be one of {BACKENDS} and device one of {DEVICES}")

    @property
    def ongoing(self) -> int:
        return self.max_ongoing_requests or 2 * self.max_batch


def parse_autoscale(text: str) -> tuple[int, int]:
    """``"MIN:MAX"`` -> ``(MIN, MAX)``, with a clear error for anything else."""
    try:
        lo, hi = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--autoscale takes MIN:MAX (e.g. 1:4), got {text!r}") from None
    return lo, hi


def engine_args(opts: DeployOptions, profile: str) -> dict[str, Any]:
    """The replica constructor's arguments: what it passes to ``Engine`` (``max_batch``: what
    a TensorRT engine is built for, so a full Serve batch of a bucket is one call)."""
    args: dict[str, Any] = {"profile": profile, "weights": opts.weights}
    args["max_batch"] = opts.max_batch
    for key in ("backend", "device"):
        if getattr(opts, key) != "auto":
            args[key] = getattr(opts, key)
    if opts.input_size is not None:
        args["input_size"] = opts.input_size
    if opts.cache_dir is not None:
        args["cache_dir"] = opts.cache_dir
    return args


def user_config(opts: DeployOptions) -> dict[str, Any]:
    """Batching knobs, changeable on running replicas (``reconfigure``) without a restart."""
    return {"max_batch_size": opts.max_batch, "batch_wait_timeout_s": opts.batch_wait_ms / 1000}


def deployment_options(opts: DeployOptions) -> dict[str, Any]:
    """Keyword arguments for ``Deployment.options``: replicas, placement, batching, health."""
    actor: dict[str, Any] = {"num_cpus": opts.cpus_per_replica}
    if opts.gpus_per_replica:
        actor["num_gpus"] = opts.gpus_per_replica
    out: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "ray_actor_options": actor,
        "max_ongoing_requests": opts.ongoing,
        "user_config": user_config(opts),
        "health_check_period_s": opts.health_check_period_s,
        "health_check_timeout_s": opts.health_check_timeout_s,
        **opts.extra,
    }
    if opts.autoscale is None:
        out["num_replicas"] = opts.replicas
    else:
        lo, hi = opts.autoscale
        out["autoscaling_config"] = {
            "min_replicas": lo,
            "max_replicas": hi,
            "initial_replicas": max(lo, 1),
            # a replica is "full" when it holds one batch in flight
            "target_ongoing_requests": opts.max_batch,
        }
    return out


def serve_config(opts: DeployOptions) -> dict[str, Any]:
    """A Ray Serve config (``serve deploy FILE``) with one application per profile."""
    apps = []
    for profile in opts.profiles:
        deployment = deployment_options(opts)
        apps.append(
            {
                "name": app_name(profile),
                "route_prefix": f"/{app_name(profile)}",
                "import_path": IMPORT_PATH,
                "args": engine_args(opts, profile),
                "deployments": [deployment],
            }
        )
    # Sessions call replicas through handles: no HTTP proxy (nor its port) is needed.
    return {"proxy_location": "Disabled", "applications": apps}


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a Serve config (JSON, which is YAML too, without PyYAML)."""
    try:
        import yaml
    except ImportError:
        return json.dumps(config, indent=2) + "\n"
    return yaml.safe_dump(config, sort_keys=False)
