"""pyproject's requirements accept every one of Colab's kernel packages (as pinned in
tests/colab_box/colab-kernel-pins.txt, the versions the Colab box runs), so a plain
``pip install segwidget`` in Colab upgrades none of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "tests" / "colab_box" / "colab-kernel-pins.txt"


def colab_pins() -> dict[str, str]:
    out = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            out[canonicalize_name(name)] = version
    return out


def test_base_requirements_accept_colabs_kernel_packages():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = colab_pins()
    checked = []
    for dep in deps:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        if name in pins:
            assert req.specifier.contains(pins[name], prereleases=True), (
                f"{dep}: Colab has {req.name} {pins[name]}; installing segwidget would change it"
            )
            checked.append(name)
    # the packages the widget runs on in Colab's kernel are all declared and checked
    assert {"anywidget", "traitlets", "ipykernel", "numpy"} <= set(checked)
