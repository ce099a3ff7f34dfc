"""The fake webcam: a YUV4MPEG2 clip made from real photos, which Chromium plays as its camera.

``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<clip.y4m>`` makes
Chromium's camera loop over the clip; :class:`FakeVideo` keeps its frames, decoded back to
RGB exactly as written, for pixel comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def sample_photos() -> dict[str, np.ndarray]:
    """Real RGB photos: scikit-image's astronaut, coffee and chelsea.

    Without scikit-image, three synthetic pictures (smooth gradients with shapes) stand in,
    so the benchmark still runs; the tests require the real ones.
    """
    try:
        from skimage import data
    except ImportError:
        return _synthetic_photos()
    return {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


def _synthetic_photos() -> dict[str, np.ndarray]:
    y, x = np.mgrid[0:512, 0:683].astype(np.float32)
    out = {}
    for i, name in enumerate(("gradient-a", "gradient-b", "gradient-c")):
        r = (x / 683 * 255 + 60 * i) % 256
        g = (y / 512 * 255 + 90 * i) % 256
        b = 128 + 100 * np.sin((x + y) / (40 + 20 * i))
        img = np.stack([r, g, b], -1)
        disc = (x - 250 - 60 * i) ** 2 + (y - 260) ** 2 < 120**2
        img[disc] = (30 + 80 * i, 200 - 50 * i, 90)
        out[name] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def default_fake_video(path: Path) -> FakeVideo:
    """The clip the tests and the benchmark use: 3 s, 640x480, 30 fps, of :func:`sample_photos`."""
    return make_fake_video(path, sample_photos())


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range YUV 4:2:0 (what Chromium assumes for a Y4M capture)."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def q(c: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return q(y), q(sub(u)), q(sub(v))


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_i420` (chroma upsampled by repetition)."""
    yf = (y.astype(np.float64) - 16) * (255 / 219)
    uf = (np.repeat(np.repeat(u, 2, 0), 2, 1).astype(np.float64) - 128) * (255 / 224)
    vf = (np.repeat(np.repeat(v, 2, 0), 2, 1).astype(np.float64) - 128) * (255 / 224)
    r = yf + 1.402 * vf
    g = yf - 0.344136 * uf - 0.714136 * vf
    b = yf + 1.772 * uf
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


@dataclass
class FakeVideo:
    """The clip Chromium's fake camera loops over, and its frames as RGB for comparisons."""

    path: Path
    width: int
    height: int
    fps: int
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB, decoded back from the Y4M
    sources: list[str]  # photo name of each frame
    _scaled: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def scaled(self, width: int, height: int) -> np.ndarray:
        """All frames resized to ``width x height`` (area averaging), as float32."""
        key = (width, height)
        if key not in self._scaled:
            from PIL import Image

            self._scaled[key] = np.stack(
                [
                    np.asarray(Image.fromarray(f).resize(key, Image.BOX), dtype=np.float32)
                    for f in self.frames
                ]
            )
        return self._scaled[key]

    def nearest(self, image: np.ndarray, size: tuple[int, int] = (160, 120)) -> tuple[int, float]:
        """The source frame closest to ``image`` (RGB, any size with the clip's aspect).

        Both are box-downscaled to ``size`` first, which absorbs resampling and JPEG noise.
        Returns ``(frame index, mean absolute difference in 0..255 per channel)``.
        """
        from PIL import Image

        small = np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.BOX),
            dtype=np.float32,
        )
        ref = self.scaled(*size)
        diffs = np.abs(ref - small[None]).mean(axis=(1, 2, 3))
        i = int(np.argmin(diffs))
        return i, float(diffs[i])

    def nearest_map(self, image: np.ndarray) -> tuple[int, np.ndarray]:
        """Nearest source frame at ``image``'s own size and the per-pixel abs difference map."""
        h, w = image.shape[:2]
        i, _ = self.nearest(image)
        ref = self.scaled(w, h)[i]
        return i, np.abs(ref - image[..., :3].astype(np.float32)).mean(axis=-1)


def make_fake_video(
    path: Path,
    photos: dict[str, np.ndarray],
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    frames_per_photo: int = 30,
    pan_px: int = 2,
) -> FakeVideo:
    """Write a YUV4MPEG2 (C420) clip: each photo in turn, panning ``pan_px`` per frame."""
    margin = pan_px * frames_per_photo
    crops: list[np.ndarray] = []
    names: list[str] = []
    for name, photo in photos.items():
        # Cover (width + margin) x (height + margin), keeping the aspect, then pan a window.
        cw, ch = width + margin, height + margin
        scale = max(cw / photo.shape[1], ch / photo.shape[0])
        big = _resize(photo[..., :3], round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        oy = (big.shape[0] - ch) // 2
        ox = (big.shape[1] - cw) // 2
        for k in range(frames_per_photo):
            d = k * pan_px
            crops.append(big[oy + d // 2 : oy + d // 2 + height, ox + d : ox + d + width])
            names.append(name)
    return write_clip(path, crops, names, fps=fps)


def write_clip(path: Path, frames: list[np.ndarray], names: list[str], fps: int = 30) -> FakeVideo:
    """Write RGB ``frames`` (all one even size) as a YUV4MPEG2 (C420) clip Chromium can play
    as its camera; the :class:`FakeVideo` holds them as decoded back from the file."""
    height, width = frames[0].shape[:2]
    decoded: list[np.ndarray] = []
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for rgb in frames:
            y, u, v = rgb_to_i420(rgb)
            fh.write(b"FRAME\n")
            fh.write(y.tobytes())
            fh.write(u.tobytes())
            fh.write(v.tobytes())
            decoded.append(i420_to_rgb(y, u, v))
    return FakeVideo(Path(path), width, height, fps, np.stack(decoded), list(names))
