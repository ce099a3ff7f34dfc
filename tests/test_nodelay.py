"""The Jupyter Server TCP_NODELAY extension (design decision 12), in a real ``jupyter
server``: enabled by the config file the package installs, and active on a live kernel
WebSocket. How much faster it makes small replies is measured by ``benchmarks/nodelay.py``,
never asserted here."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
from jupyter_core.paths import jupyter_config_path  # noqa: E402

from segwidget.bench.harness import NODELAY_OFF, JupyterServer, kernel_round_trips  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "jupyter_server_config.d/segwidget.json"
ENABLED = "segwidget: TCP_NODELAY on kernel WebSockets enabled"


def test_the_wheel_installs_the_config_that_enables_the_extension():
    shipped = ROOT / "jupyter-config" / CONFIG
    config = json.loads(shipped.read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"segwidget.jupyter_nodelay": True}}}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared[f"jupyter-config/{CONFIG}"] == f"etc/jupyter/{CONFIG}"
    installed = [Path(p) / CONFIG for p in jupyter_config_path() if (Path(p) / CONFIG).is_file()]
    assert installed, "segwidget's Jupyter config is not installed: pip install -e . again"
    assert json.loads(installed[0].read_text()) == config


def test_module_import_is_light():
    code = "import sys, segwidget.jupyter_nodelay; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_kernel_websockets_get_tcp_nodelay(tmp_path):
    """A real server, configured only by the installed file: the kernel WebSocket's socket has
    TCP_NODELAY."""
    statuses = []
    with JupyterServer("server", tmp_path / "on") as on:
        assert ENABLED in on.log_text()
        asyncio.run(
            kernel_round_trips(
                on, 1, check=lambda k: statuses.append((k, on.get_json("/segwidget/nodelay")))
            )
        )
    ((kernel, status),) = statuses
    assert status["active"] is True
    assert {"kernel_id": kernel, "tcp_nodelay": True} in status["kernel_websockets"]


@pytest.mark.slow
def test_extension_can_be_disabled(tmp_path):
    with JupyterServer("server", tmp_path / "off", args=[NODELAY_OFF]) as off:
        with pytest.raises(urllib.error.HTTPError) as info:
            off.get_json("/segwidget/nodelay")
        assert info.value.code == 404
        assert "segwidget: TCP_NODELAY" not in off.log_text()
