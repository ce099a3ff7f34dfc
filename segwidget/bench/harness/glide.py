"""Is the mask on the picture shown? A fake-webcam clip of the astronaut cut out onto plain
green, gliding across the frame at about 160 px/s, and the share of her shown pixels that the
drawn mask covers (the person class drawn opaque in one colour nothing else has).

A view that draws the newest mask over the live video shows the person ahead of her mask by
the loop's latency (about 1 px per 6 ms here); one that draws each mask over the frame it
came from (``display="aligned"``, js/src/aligned.js) leaves only the edges bare.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .video import FakeVideo, write_clip

GREEN = (30, 190, 60)  # the plain background
MAGENTA = (255, 0, 255)  # the person class, drawn opaque: in no photo pixel near it


@dataclass
class GlideClip:
    """The clip, the cut-out's pixel count in a frame, and the speed it moves at."""

    video: FakeVideo
    person_px: int
    speed_px_s: float
    labels: list[str]  # the profile's, to draw the person class alone


def make_glide_clip(
    path: Path,
    photo: np.ndarray,
    person: np.ndarray,
    labels: list[str],
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    side: int = 360,
    speed_px_s: float = 160.0,
) -> GlideClip:
    """``photo``'s person (``person``: bool mask at the photo's size) on plain green, ``side``
    px square and bottom-aligned, gliding left to right and back at ``speed_px_s``."""
    from PIL import Image

    sprite = np.asarray(Image.fromarray(photo[..., :3]).resize((side, side), Image.LANCZOS))
    cut = np.asarray(Image.fromarray(person.astype(np.uint8) * 255).resize((side, side))) > 127
    travel = width - side - 40
    step = speed_px_s / fps
    n = int(travel / step)
    xs = [20 + round(i * step) for i in range(n)] + [20 + round((n - i) * step) for i in range(n)]
    y = height - side
    frames = []
    for x in xs:
        f = np.empty((height, width, 3), np.uint8)
        f[:] = GREEN
        region = f[y : y + side, x : x + side]
        region[cut] = sprite[cut]
        frames.append(f)
    video = write_clip(path, frames, ["astronaut"] * len(frames), fps=fps)
    return GlideClip(video, int(cut.sum()), speed_px_s, list(labels))


def custom_palette(labels: list[str]) -> list[list[int]]:
    """Every class black but the person, magenta (with ``class_filter=["person"]`` only the
    person is drawn)."""
    return [list(MAGENTA) if name == "person" else [0, 0, 0] for name in labels]


def alignment(shot: np.ndarray, clip: GlideClip, tol: int = 60) -> dict[str, float] | None:
    """The share of the person's shown pixels under the drawn mask, from a screenshot of the
    stage (RGB). The person's shown size is the cut-out's, scaled to the picture (the box
    the green background spans); what is neither green nor the mask colour is her, bare.
    None when no picture is found (the stage not showing yet)."""
    rgb = shot[..., :3].astype(np.int16)
    green = np.abs(rgb - np.array(GREEN)).max(axis=-1) <= tol
    masked = np.abs(rgb - np.array(MAGENTA)).max(axis=-1) <= tol
    ys, xs = np.nonzero(green)
    if len(ys) < 1000:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box = (slice(y0, y1), slice(x0, x1))
    scale = ((y1 - y0) * (x1 - x0)) / (clip.video.height * clip.video.width)
    shown = clip.person_px * scale
    bare = float((~green[box] & ~masked[box]).sum())
    return {
        "covered": round(max(0.0, 1.0 - bare / shown), 4),
        "bare_px": int(bare),
        "person_px": round(shown),
        "mask_px": int(masked[box].sum()),
    }
