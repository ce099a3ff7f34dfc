"""The person profile seen through the product: a fake-webcam clip of the astronaut moving
left to right on a plain background, and the checks that the view's pixels follow the
person (the overlay on her and not around her; blur taking the background's detail and
leaving her face's).

Ground truth is the engine's own mask of the video frame the canvas shows (found with
:meth:`FakeVideo.nearest`), eroded on both sides by ``margin`` pixels: the view draws the
newest mask over the *current* video frame, so a moving person leads her mask by the
pipeline's latency (about 1 px per 33 ms at this clip's speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .video import FakeVideo, write_clip

#: The astronaut's face in scikit-image's 512 x 512 photo: x0, y0, x1, y1.
FACE_BOX = (175, 75, 260, 185)
PLAIN = (112, 128, 144)  # the plain background: a slate grey, unlike any class colour


@dataclass
class PersonClip:
    """The clip, and where the photo (``side`` x ``side``) is in each of its frames."""

    video: FakeVideo
    xs: list[int]  # the photo's left edge per frame
    y: int  # its top edge
    side: int

    def face(self, index: int, shrink: int = 10) -> tuple[slice, slice]:
        """The face's rows and columns in frame ``index`` (``shrink`` px inside the box)."""
        s = self.side / 512
        x0, y0, x1, y1 = (round(v * s) for v in FACE_BOX)
        x = self.xs[index]
        return slice(self.y + y0 + shrink, self.y + y1 - shrink), slice(
            x + x0 + shrink, x + x1 - shrink
        )


def make_person_clip(
    path,
    photo: np.ndarray,
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    side: int = 400,
    travel: int = 120,
) -> PersonClip:
    """The photo (``side`` px square, bottom-aligned) on a plain background, moving
    ``travel`` px left to right at 1 px per frame and back: a loop without a jump."""
    from PIL import Image

    sprite = np.asarray(Image.fromarray(photo[..., :3]).resize((side, side), Image.LANCZOS))
    x0 = (width - side - travel) // 2
    y = height - side
    xs = [x0 + d for d in range(travel)] + [x0 + travel - d for d in range(travel)]
    frames = []
    for x in xs:
        f = np.empty((height, width, 3), np.uint8)
        f[:] = PLAIN
        f[y : y + side, x : x + side] = sprite
        frames.append(f)
    video = write_clip(path, frames, ["astronaut"] * len(frames), fps=fps)
    return PersonClip(video, xs, y, side)


def person_region(engine, frame: np.ndarray) -> np.ndarray:
    """The engine's person mask of ``frame``, upsampled as the view does: bool H x W."""
    res = engine.segment(frame)
    h, w = frame.shape[:2]
    person = engine.labels.index("person")
    return res.mask_at(h, w) == person


def erode(region: np.ndarray, margin: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.erode(region.astype(np.uint8), k).astype(bool)


def overlay_fractions(
    canvas: np.ndarray,
    video: np.ndarray,
    person: np.ndarray,
    colour: tuple[int, int, int],
    opacity: float,
    margin: int = 32,
    tol: float = 10.0,
) -> dict[str, float]:
    """Share of pixels showing the person's colour mixed in (``filled``) inside the person
    (eroded by ``margin``) and outside it, and the share outside that is the plain video."""
    rgb = canvas[..., :3].astype(np.float64)
    v = video.astype(np.float64)
    mixed = np.floor(v * (1 - opacity) + np.array(colour, np.float64) * opacity + 0.5)
    is_overlay = np.abs(rgb - mixed).max(axis=-1) <= tol
    is_video = np.abs(rgb - v).max(axis=-1) <= tol
    inside, outside = erode(person, margin), erode(~person, margin)
    return {
        "inside_overlay": float(is_overlay[inside].mean()),
        "outside_overlay": float(is_overlay[outside].mean()),
        "outside_video": float(is_video[outside].mean()),
        "inside_px": int(inside.sum()),
        "outside_px": int(outside.sum()),
    }


def high_freq_energy(rgb: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean squared Laplacian of the grey image (over ``where``): the detail a blur removes."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F)
    sq = lap**2
    return float(sq[where].mean() if where is not None else sq.mean())


def blur_ratios(
    canvas: np.ndarray,
    video: np.ndarray,
    person: np.ndarray,
    face: tuple[slice, slice],
    margin: int = 32,
) -> dict[str, float]:
    """High-frequency energy of the canvas over the video's: in the background (eroded by
    ``margin``) and in the face box."""
    outside = erode(~person, margin)
    bg = high_freq_energy(canvas, outside) / high_freq_energy(video, outside)
    fc = high_freq_energy(canvas[face]) / high_freq_energy(video[face])
    return {"background": round(bg, 4), "face": round(fc, 4)}
