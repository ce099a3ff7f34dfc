"""notebooks/quickstart.ipynb, as shipped, top to bottom in JupyterLab with the fake webcam and
no network for model weights: no cell raises.

The first cell is run by JupyterLab itself (it displays the widget, which opens the camera);
the others are run one after another in the same kernel, each once the previous one is done,
as a person pressing Shift+Enter would.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import nbformat
import pytest

from segwidget.bench.harness import WIDGET_SELECTOR

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
#: No network for weights: the downloadable profiles fail at once instead of downloading.
OFFLINE = {"SEGWIDGET_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def code_cells() -> list[str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_quickstart_runs_top_to_bottom_offline(widget_host_factory, tmp_path):
    cells = code_cells()
    env = {**OFFLINE, "SEGWIDGET_CACHE_DIR": str(tmp_path / "cache")}
    host = widget_host_factory("lab", cells[:1], WIDGET_SELECTOR, env=env)
    probe = host.probe
    probe.wait_for("w.results_count > 0", timeout=240, what="a first result in the notebook")
    assert probe.eval("w.profile") == "person"
    assert probe.eval("w.error") is None

    for i, code in enumerate(cells[1:], start=2):
        try:
            probe.execute(code, timeout=240)
        except Exception as exc:
            raise AssertionError(f"code cell {i} of the quick start failed: {exc}") from exc
        if code.startswith('w.profile = "fast"'):
            # Offline, the switch fails with the fixes in its message and person keeps serving.
            error = probe.wait_for("w.error", timeout=120, what="the offline switch's error")
            assert error["code"] == "WEIGHTS_UNAVAILABLE", error
            assert "SEGWIDGET_OFFLINE" in error["message"]
            assert probe.eval("w.profile") == "person"

    out = host.server.root / "output"
    assert (out / "shot.png").stat().st_size > 0
    assert (out / "clip.mp4").stat().st_size > 0
    # at the fake camera's 640x480, not the model's input size (the view sends full-size
    # frames while they need them)
    assert cv2.imread(str(out / "shot.png")).shape[0] == 480
    clip = cv2.VideoCapture(str(out / "clip.mp4"))
    try:
        assert clip.get(cv2.CAP_PROP_FRAME_HEIGHT) == 480
    finally:
        clip.release()
    # The recording was awaited: the stream kept flowing into it while the cell waited.
    frames = probe.eval("result.frames")
    print(f"quick start: {frames} frames recorded in the awaited 5 s recording")
    assert frames >= 10, f"only {frames} frames recorded in 5 s"
    assert probe.eval("replay.stats['frames_processed']") == probe.eval("len(frames)")
    assert probe.eval("w.comm is None")  # closed
