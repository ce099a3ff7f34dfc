"""scripts/test.sh refuses to install into a Python outside a virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def base_python() -> str:
    """An interpreter outside any virtual environment (the one this venv was made from)."""
    exe = Path(sys.base_prefix) / "bin" / "python3"
    if not exe.exists():
        pytest.skip(f"no base interpreter at {exe}")
    return str(exe)


def test_refuses_the_python_outside_a_virtual_environment():
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CONDA_PREFIX", "VIRTUAL_ENV")}
    env.pop("SEGWIDGET_INSTALL_ANYWHERE", None)
    env["PYTHON"] = base_python()
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "python3 -m venv .venv" in proc.stderr
    assert sys.base_prefix in proc.stderr  # says where it would have installed
    assert "installing" not in proc.stderr  # refused before installing anything
