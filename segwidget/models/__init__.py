"""Model files shipped inside the package (no download): MediaPipe's selfie segmentation.

``selfie_square.onnx`` (256 x 256) and ``selfie_landscape.onnx`` (144 x 256) are converted by
``scripts/convert_selfie.py`` from the npm package named in :data:`SOURCE` (Apache-2.0; see
``LICENSE`` and ``NOTICE`` in this folder).
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
SOURCE = {
    "package": "@mediapipe/selfie_segmentation",
    "version": "0.1.1675465747",
    "licence": "Apache-2.0",
    "author": "Google (MediaPipe)",
}


def model_path(name: str) -> Path:
    """Path of a shipped model, e.g. ``model_path("selfie_square")``; clear error if absent."""
    path = FOLDER / f"{name}.onnx"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in FOLDER.glob("*.onnx"))) or "none"
        raise FileNotFoundError(
            f"shipped model {name!r} is missing from {FOLDER} (shipped: {shipped}); "
            "reinstall segwidget or run scripts/convert_selfie.py"
        )
    return path
