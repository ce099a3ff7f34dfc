"""The Jupyter Server TCP_NODELAY extension (DESIGN.md decision 12), in a real ``jupyter
server``: enabled by the config file the package installs, and active on a live kernel
WebSocket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
from jupyter_core.paths import jupyter_config_path  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "jupyter_server_config.d/segwidget.json"
TOKEN = "segwidget-test"
START_TIMEOUT_S = 90


class JupyterServer:
    """``python -m jupyter_server`` on a free port with this environment's system config
    (where ``pip install segwidget`` put its file) and an empty user config."""

    def __init__(self, tmp: Path, *extra_args: str):
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTER_DATA_DIR=str(tmp / "data"),
        )
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={tmp}",
            *extra_args,
        ]
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.log: list[str] = []
        self._port = threading.Event()
        self.port = 0
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._port.wait(START_TIMEOUT_S) or not self.port:
            self.stop()
            raise RuntimeError("jupyter server did not start:\n" + "".join(self.log[-30:]))
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_listening()

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if m and not self.port and m.group(1) != "0":
                self.port = int(m.group(1))
                self._port.set()
        self._port.set()  # the server exited

    def _wait_listening(self) -> None:
        # The server prints its URL just before its event loop binds the port: poll the
        # readiness endpoint (a real signal) until it answers, within a deadline.
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.get("/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("jupyter server is not answering") from None
                time.sleep(0.05)

    def request(self, method: str, path: str, body: bytes | None = None) -> dict:
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(f"{self.base}{path}{sep}token={TOKEN}", body, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
        return json.loads(data) if data else {}

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def execute_request(code: str) -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "test",
            "session": "test",
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
        },
    }


async def _kernel_round_trips(server: JupyterServer, n: int, check=None) -> list[float]:
    """Milliseconds from sending ``print(1)`` to its reply and idle status, ``n`` times."""
    kernel = server.request("POST", "/api/kernels", b"{}")["id"]
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels?session_id=t&token={TOKEN}"
    ws = await websocket_connect(url)
    try:
        if check is not None:
            check(kernel)
        times = []
        for _ in range(n):
            msg = execute_request("print(1)")
            msg_id = msg["header"]["msg_id"]
            t0 = time.perf_counter()
            await ws.write_message(json.dumps(msg))
            reply = idle = False
            while not (reply and idle):
                got = json.loads(await ws.read_message())
                if got.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                reply = reply or got["msg_type"] == "execute_reply"
                idle = idle or (
                    got["msg_type"] == "status" and got["content"]["execution_state"] == "idle"
                )
            times.append((time.perf_counter() - t0) * 1000)
        return times[3:]  # the first requests warm the kernel up
    finally:
        ws.close()
        server.request("DELETE", f"/api/kernels/{kernel}")


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
    TCP_NODELAY. (How much faster that makes small replies is measured by
    ``benchmarks/nodelay.py``, not asserted here.)"""
    statuses = []
    on = JupyterServer(tmp_path / "on")
    try:
        assert any("segwidget: TCP_NODELAY on kernel WebSockets enabled" in x for x in on.log)
        asyncio.run(
            _kernel_round_trips(
                on, 4, check=lambda k: statuses.append((k, on.get("/segwidget/nodelay")))
            )
        )
    finally:
        on.stop()
    ((kernel, status),) = statuses
    assert status["active"] is True
    assert {"kernel_id": kernel, "tcp_nodelay": True} in status["kernel_websockets"]


@pytest.mark.slow
def test_extension_can_be_disabled(tmp_path):
    off = JupyterServer(
        tmp_path / "off", "--ServerApp.jpserver_extensions={'segwidget.jupyter_nodelay': False}"
    )
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            off.get("/segwidget/nodelay")
        assert info.value.code == 404
        assert not any("segwidget: TCP_NODELAY" in x for x in off.log)
    finally:
        off.stop()
