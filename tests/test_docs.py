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


def test_docs_name_each_profile_s_model_as_the_code_does():
    """`balanced` (DeepLabV3-ResNet50), not SegFormer: every "`profile` (Model" in the README,
    the docs and the notebooks starts the profile's own description."""
    from segwidget.profiles import PROFILES

    names = r"`(?:fast|balanced|accurate|person)`"
    pattern = re.compile(rf"((?:{names}(?:, | and | or ))*{names}) \(([A-Z][\w-]+)")
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    paths += sorted((ROOT / "notebooks").glob("*.ipynb"))
    found = 0
    for path in paths:
        for group, model in pattern.findall(path.read_text()):
            for name in re.findall(r"`(\w+)`", group):
                found += 1
                assert PROFILES[name].description.startswith(model), (path.name, name, model)
    assert found >= 5
