"""What the README claims agrees with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from segwidget.hardware import ONNX_RUNTIME_CPU_SPEEDUP, Hardware, choose_backend

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_one_onnx_runtime_speedup_figure():
    cpu = Hardware(cuda=False, ort_providers=("CPUExecutionProvider",))
    assert ONNX_RUNTIME_CPU_SPEEDUP in choose_backend("auto", "auto", cpu).reason
    assert f"{ONNX_RUNTIME_CPU_SPEEDUP} faster than torch eager" in README
    # No second, different figure anywhere a user reads.
    for path in [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        figures = set(re.findall(r"(\d[\d.\-]*x) faster than torch", path.read_text()))
        assert figures <= {ONNX_RUNTIME_CPU_SPEEDUP}, (path.name, figures)


def test_readme_keeps_the_two_set_up_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.split("## Set up", 1)[1], re.S)
    install, tests = blocks[0].strip(), blocks[1].strip()
    # the lean one: person and the quick start without torch; the models extra is named
    assert "pip install -e . jupyterlab && jupyter lab notebooks/quickstart.ipynb" in install
    assert "torch" not in install
    assert "pip install -e '.[models]'" in README
    assert "--index-url https://download.pytorch.org/whl/cpu" in README
    assert "bash scripts/test.sh -ra" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci
