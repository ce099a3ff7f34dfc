"""The shipped notebooks are valid, their code parses, and the quick start shows every feature."""

from __future__ import annotations

import ast
from pathlib import Path

import anywidget
import nbformat
import pytest

from segwidget.render import VIZ_MODES
from segwidget.widget import SegWidget

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def code_of(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") for c in nb.cells), "commit notebooks without outputs"
    for c in cells:
        python = "\n".join(
            "pass" if line.lstrip().startswith(("%", "!")) else line for line in c.splitlines()
        )
        ast.parse(python)
    return "\n".join(cells)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "colab_quickstart.ipynb"])
def test_notebook_is_valid_and_parses(name):
    assert "SegWidget(" in code_of(name)


def test_quickstart_shows_every_feature():
    code = code_of("quickstart.ipynb")
    base = set(anywidget.AnyWidget.class_trait_names())
    traits = [n for n in SegWidget.class_trait_names(sync=True) if n not in base]
    traits.remove("source_kind")  # derived from source=
    methods = ["latest(", "overlay(", "snapshot(", "on_result(", "record(", "await rec", "close("]
    missing = [n for n in traits if f"w.{n}" not in code and f'"{n}"' not in code]
    missing += [m for m in methods if m not in code]
    missing += [f'"{mode}"' for mode in VIZ_MODES if f'"{mode}"' not in code]
    missing += [s for s in ("source=frames", "source=0", "source=") if s not in code]
    assert not missing, f"quickstart.ipynb does not show {missing}"


def test_quickstart_starts_offline_and_shares_one_install_and_weights_choice():
    """The first cell runs the shipped person model; every widget takes the same WEIGHTS; the
    install line is the README's; what the notebook writes goes to output/ (git-ignored)."""
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert 'SegWidget(profile="person", weights=WEIGHTS)' in code[0]
    made = [line for c in code for line in c.splitlines() if "SegWidget(" in line]
    assert all("weights=WEIGHTS" in line for line in made if not line.lstrip().startswith("#"))
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    install = next(line for line in readme.splitlines() if "pip install -e . jupyterlab" in line)
    text = "\n".join(c.source for c in nb.cells)
    assert install in text
    assert "pip install -e .\n" not in text  # no second, different install instruction
    writes = [
        line for c in code for line in c.splitlines() if "snapshot(" in line or "record(" in line
    ]
    assert writes
    assert all("OUT /" in line for line in writes), writes
    assert "/notebooks/output/" in (NOTEBOOKS.parent / ".gitignore").read_text()


def test_colab_notebook_installs_plainly_and_starts_offline():
    """Colab's kernel packages satisfy segwidget's requirements (tests/test_colab_versions.py),
    so the install is a plain one; the first widget runs the shipped person model."""
    code = code_of("colab_quickstart.ipynb")
    assert "--no-deps" not in code
    assert '%pip install -q "segwidget[models] @ git+$REPO"' in code
    assert 'SegWidget(profile="person")' in code
