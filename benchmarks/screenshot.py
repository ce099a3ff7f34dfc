"""Take docs/img/page.png: the standalone page in headless Chromium with the fake webcam.

    python benchmarks/screenshot.py [--profile person] [--weights pretrained] [--viz filled]
                                    [--out docs/img/page.png]

Uses the end-to-end harness (segwidget.bench.harness): a real `segwidget serve` on a loopback port,
Debian's Chromium, and as the camera a Y4M clip of scikit-image's astronaut moving on a plain
background (the person profile: a real segmentation) or, for the other profiles, of three photos.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from segwidget.bench.harness import wait_until
from segwidget.bench.harness.browser import launch_chromium
from segwidget.bench.harness.person import make_person_clip
from segwidget.bench.harness.util import chromium_path
from segwidget.bench.harness.video import default_fake_video, sample_photos
from segwidget.server.background import BackgroundServer
from segwidget.server.config import ServerConfig

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="person")
    parser.add_argument("--weights", default="pretrained", help="'random' for untrained ones")
    parser.add_argument("--viz", default="filled")
    parser.add_argument("--frames", type=int, default=60, help="frames to wait for")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "page.png"))
    args = parser.parse_args(argv)
    chromium = chromium_path()
    if not chromium:
        print("Chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    # Chromium's helpers may still write to its profile for a moment after the context is
    # closed: a leftover file in the temporary folder must not fail a written screenshot.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        clip = Path(tmp) / "webcam.y4m"
        if args.profile == "person":
            video = make_person_clip(clip, sample_photos()["astronaut"]).video
        else:
            video = default_fake_video(clip)
        token = "screenshot-token"
        config = ServerConfig(
            host="127.0.0.1", port=0, profile=args.profile, weights=args.weights, token=token
        )
        with BackgroundServer(config).start() as srv, sync_playwright() as pw:
            ctx = launch_chromium(pw, chromium, video.path, Path(tmp) / "profile")
            page = ctx.new_page()
            page.set_viewport_size({"width": 1100, "height": 820})
            page.goto(f"{srv.url}&autostart=1&profile={args.profile}&mirror=0")

            def frames() -> int:
                sessions = [c.session for c in srv.state.connections if c.session]
                return sessions[0].stats.frames_processed if sessions else 0

            wait_until(lambda: frames() >= args.frames, 120, f"{args.frames} frames")
            if args.viz != "filled":
                page.locator(f"button[data-mode='{args.viz}']").click()
            # Stats refresh about once a second: wait for a refresh after the frames above.
            seen = frames()
            wait_until(lambda: frames() >= seen + 30, 60, "30 more frames")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            ctx.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
