"""The ``segwidget`` command: ``bench``, ``download`` and ``serve``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .hardware import BACKENDS, DEVICES
from .profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="segwidget",
        description="Real-time webcam semantic segmentation for Jupyter and the browser.",
    )
    parser.add_argument("--version", action="version", version=f"segwidget {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="measure model speed per profile and backend",
        description="Measure each profile and backend on this machine with a real photo. "
        "With --e2e, run the real widget or page in headless Chromium instead.",
    )
    bench.add_argument(
        "--profile", action="append", choices=list(PROFILES), help="profile(s); default: all"
    )
    bench.add_argument(
        "--backend",
        action="append",
        choices=[b for b in BACKENDS if b != "auto"] + ["auto"],
        help="backend(s); default: the auto choice, plus torch on CPU for the speed ratio",
    )
    bench.add_argument("--device", default="auto", choices=DEVICES)
    bench.add_argument("--weights", default="pretrained", help="pretrained, random or a path")
    bench.add_argument(
        "--seconds", type=float, default=None, help="timed seconds per row (default 3; --e2e 15)"
    )
    bench.add_argument("--input-size", type=int, help="model long side (default: profile's)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--e2e", action="store_true", help="end-to-end run in headless Chromium")
    bench.add_argument(
        "--host", default="lab", choices=["lab", "voila", "page"], help="--e2e / --soak host"
    )
    bench.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="stream that long in headless Chromium, sampling FPS, latency and memory every 10 s",
    )
    bench.add_argument("--clients", type=int, default=1, help="--soak --host page: browser tabs")
    bench.add_argument(
        "--rtt",
        help="--e2e: far from the kernel: round trip(s) in ms a WAN proxy adds (0,100,200), "
        "or local (no proxy: before vs after on localhost)",
    )
    bench.add_argument(
        "--rate-mbit", type=float, default=20.0, help="--e2e --rtt: uplink cap (default 20)"
    )
    bench.add_argument("--down-mbit", type=float, help="--e2e --rtt: downlink cap (max(R, 20))")
    bench.add_argument(
        "--scenario", choices=["stall", "drop"], help="--e2e --rtt: a 3 s stall, or 2 Mbit/s"
    )
    bench.add_argument("--plot", help="--soak: write the plot (PNG) here")
    bench.add_argument("--output", help="--soak, --e2e: write the JSON result here")
    bench.set_defaults(func=_bench)

    download = sub.add_parser(
        "download",
        help="pre-fetch pretrained weights",
        description="Download pretrained weights into the cache (torch hub and Hugging Face "
        "caches, or --cache-dir). In Colab, point --cache-dir at Google Drive and set "
        "SEGWIDGET_CACHE_DIR to the same folder before using segwidget.",
    )
    download.add_argument(
        "profiles", nargs="*", metavar="PROFILE", help=f"any of {', '.join(PROFILES)}; default: all"
    )
    download.add_argument("--cache-dir", help="cache folder (sets SEGWIDGET_CACHE_DIR)")
    download.set_defaults(func=_download)

    serve = sub.add_parser(
        "serve",
        help="serve the standalone page and WebSocket API",
        description="Serve the segmentation page at / and the WebSocket API at /ws.",
    )
    try:
        from .server.config import add_arguments
        from .server.serve import run
    except ImportError as exc:  # the server extra is not installed
        serve.set_defaults(func=lambda _args, exc=exc: _missing_server(exc))
    else:
        add_arguments(serve)
        serve.set_defaults(func=run)
    from .cluster.cli import add_parser as add_cluster_parser

    add_cluster_parser(sub)
    return parser


def _missing_server(exc: ImportError) -> int:
    print(f"segwidget serve needs the server extra: pip install 'segwidget[server]' ({exc})")
    return 2


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a browser bench killed by a job runner or ``timeout``
    still closes Chromium and the Jupyter or page server it started (their ``with`` blocks
    run) instead of leaving them streaming as orphans."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _bench(args: argparse.Namespace) -> int:
    if args.soak is not None or args.e2e:
        _exit_on_sigterm()
    if args.soak is not None:
        from .bench.soak import run_soak_cli

        return run_soak_cli(args)
    if args.e2e:
        from .bench.e2e import run_e2e

        return run_e2e(args)
    from .bench.model import failed, format_table, run_bench

    rows = run_bench(
        profiles=args.profile or list(PROFILES),
        backends=args.backend,
        device=args.device,
        weights=args.weights,
        seconds=3.0 if args.seconds is None else args.seconds,
        input_size=args.input_size,
        progress=None if args.json else lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 1 if failed(rows) else 0


def _download(args: argparse.Namespace) -> int:
    from .errors import SegwidgetError
    from .profiles import get_profile
    from .weights_ref import describe_weights, require_model_packages

    if args.cache_dir:
        os.environ["SEGWIDGET_CACHE_DIR"] = os.path.abspath(os.path.expanduser(args.cache_dir))
    try:
        profiles = [get_profile(name) for name in args.profiles or list(PROFILES)]
    except ValueError as exc:
        print(f"segwidget download: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for profile in profiles:
        name = profile.name
        print(f"{name}: {profile.pretrained}", flush=True)
        if profile.shipped:  # nothing to fetch, and no torch to import
            print(f"  ok: {describe_weights(profile).description}")
            continue
        try:
            require_model_packages(profile)
            from .weights import load_weights

            loaded = load_weights(profile, "pretrained")
        except SegwidgetError as exc:
            print(f"  failed: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"  ok: {loaded.description}")
    if args.cache_dir:
        print(
            f"\nBefore using segwidget, set SEGWIDGET_CACHE_DIR={os.environ['SEGWIDGET_CACHE_DIR']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
