"""Jupyter hosts for end-to-end runs: a server launcher, a notebook writer, kernel round trips.

:class:`JupyterServer` starts ``jupyter lab``, ``jupyter notebook``, ``voila`` or a bare
``jupyter server`` on a free loopback port with a token, in a private home (config, runtime
dir, IPython dir) so the user's own setup does not leak in. :func:`kernel_round_trips` times
small executions over a kernel WebSocket, as a browser sees them. The second client on a
notebook's kernel is :mod:`.kernel_probe`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .util import PACKAGE_PARENT, free_port, wait_until


def write_notebook(path: Path, cells: Iterable[str]) -> Path:
    """A minimal nbformat 4 notebook with one code cell per source string."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))
    return path


# --------------------------------------------------------------------------------------------
# Jupyter servers
# --------------------------------------------------------------------------------------------

#: Front-ends with a notebook page, and the bare server (REST and kernel WebSockets only).
HOSTS = ("lab", "notebook", "voila")
KINDS = (*HOSTS, "server")
HOST_MODULE = {
    "lab": "jupyterlab",
    "notebook": "notebook",
    "voila": "voila",
    "server": "jupyter_server",
}

#: Command-line flag that turns segwidget's TCP_NODELAY server extension off.
NODELAY_OFF = "--ServerApp.jpserver_extensions={'segwidget.jupyter_nodelay': False}"


class JupyterServer:
    """``jupyter lab | notebook | server`` or ``voila`` on a free loopback port with a token.

    Everything the server writes (runtime dir with the kernels' connection files, config,
    workspaces, user settings, IPython dir, its log) lives under ``home``; the notebook lives
    in ``home / "root"``. The environment's system config still applies, so extensions that
    ``pip install`` enabled (segwidget's TCP_NODELAY one) are on; ``args`` adds command-line
    options (e.g. :data:`NODELAY_OFF`).
    """

    def __init__(
        self,
        kind: str,
        home: Path,
        notebook: str = "e2e.ipynb",
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        lab_settings: dict[str, dict] | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.kind = kind
        self.home = home
        self.root = home / "root"
        self.runtime_dir = home / "runtime"
        self.notebook = notebook
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log_path = home / f"{kind}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.extra_env = env or {}
        self.extra_args = list(args)
        # JupyterLab / Notebook settings by plugin id, e.g.
        # {"@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": "disabled"}}
        self.lab_settings = dict(lab_settings or {})
        self.leftover_kernels: list[int] = []  # kernels stop() had to kill

    # -- urls --------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    @property
    def page_url(self) -> str:
        """The page that shows the notebook in this host."""
        if self.kind == "lab":
            return self.url(f"/lab/tree/{self.notebook}")
        if self.kind == "notebook":
            return self.url(f"/notebooks/{self.notebook}")
        return self.url("/")

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body: bytes | None = None, timeout: float = 30
    ) -> Any:
        """An authenticated REST call; the JSON answer (None when empty)."""
        req = urllib.request.Request(self.url(path), body, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def get_json(self, path: str, timeout: float = 5) -> Any:
        return self.request("GET", path, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------------
    def _command(self) -> list[str]:
        common = ["--no-browser", f"--port={self.port}"]
        if self.kind == "voila":
            return [
                sys.executable,
                "-m",
                "voila",
                str(self.root / self.notebook),
                *common,
                "--Voila.ip=127.0.0.1",
                f"--Voila.token={self.token}",
                "--Voila.port_retries=0",
                # Kernel connection files where KernelProbe finds them (default: /tmp/voila_*).
                f"--Voila.connection_dir_root={self.runtime_dir}",
                "--show_tracebacks=True",
                *self.extra_args,
            ]
        server = [
            sys.executable,
            "-m",
            HOST_MODULE[self.kind],
            *common,
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--allow-root",
        ]
        if self.kind == "server":
            return [*server, *self.extra_args]
        app = "LabApp" if self.kind == "lab" else "JupyterNotebookApp"
        return [
            *server,
            # window.jupyterapp, as JupyterLab's own Playwright tool (Galata) uses it.
            f"--{app}.expose_app_in_browser=True",
            f"--{app}.user_settings_dir={self.home / 'config' / 'lab' / 'user-settings'}",
            f"--{app}.workspaces_dir={self.home / 'config' / 'lab' / 'workspaces'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *self.extra_args,
        ]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        config = self.home / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        # No "receive Jupyter news?" toast over the page.
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        for plugin, values in self.lab_settings.items():
            package, _, name = plugin.rpartition(":")
            path = config / "lab" / "user-settings" / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_CONFIG_DIR=str(config),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        pp = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(PACKAGE_PARENT) + (os.pathsep + pp if pp else "")
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> JupyterServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self._command(),
            cwd=self.root,
            env=self._env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stop() reaches its kernels
        )
        wait_until(
            self._http_ready,
            timeout,
            f"{self.kind} server to answer HTTP",
            0.2,
            on_timeout=self.log_tail,
        )
        return self

    def _http_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}{self.log_tail()}")
        # Voila has no /api/status; its static files are served without a kernel.
        path = "/api/status" if self.kind != "voila" else "/voila/static/voila.js"
        try:
            with urllib.request.urlopen(self.url(path), timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_text(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        lines = self.log_text().splitlines()
        if not lines:
            return ""
        return f"\n--- last lines of {self.log_path} ---\n" + "\n".join(lines[-n:])

    def _children(self) -> list[int]:
        """PIDs whose parent is the server (its kernels run in sessions of their own)."""
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
        return pids

    def stop(self, timeout: float = 20) -> None:
        proc = self.proc
        if proc is None:
            return
        children = self._children()
        if proc.poll() is None:
            if self.kind != "voila":
                # A clean shutdown: the server shuts its kernels down, then exits.
                with contextlib.suppress(Exception):
                    req = urllib.request.Request(self.url("/api/shutdown"), method="POST")
                    urllib.request.urlopen(req, timeout=5).close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the server's handler shuts kernels down
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.proc = None
        # Kernels the server did not shut down (only the ones it started, by pid).
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                self.leftover_kernels.append(pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- kernels -----------------------------------------------------------------------------
    def connection_files(self) -> list[Path]:
        return sorted(self.runtime_dir.rglob("kernel-*.json"))

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kernel_id_for_notebook(self) -> str | None:
        """The kernel of the notebook's session (Lab / Notebook REST API)."""
        for s in self.get_json("/api/sessions"):
            if s.get("path", "").endswith(self.notebook) and s.get("kernel"):
                return s["kernel"]["id"]
        return None

    def kernel_connection_file(self, timeout: float = 60) -> Path:
        """The connection file of the kernel that runs the notebook."""
        if self.kind == "voila":
            # Voila starts one kernel per page view; the test opens one page.
            def one() -> Path | None:
                files = self.connection_files()
                if len(files) > 1:
                    raise RuntimeError(f"several Voila kernels: {files}")
                return files[0] if files else None

            return wait_until(
                one, timeout, "Voila's kernel connection file", on_timeout=self.log_tail
            )
        kid = wait_until(
            self.kernel_id_for_notebook,
            timeout,
            "the notebook's kernel session",
            on_timeout=self.log_tail,
        )
        path = self.runtime_dir / f"kernel-{kid}.json"
        wait_until(path.exists, timeout, f"{path}", on_timeout=self.log_tail)
        return path


# --------------------------------------------------------------------------------------------
# Kernel round trips over a server's kernel WebSocket
# --------------------------------------------------------------------------------------------


def execute_request(code: str, session: str = "segwidget-e2e") -> dict[str, Any]:
    """A Jupyter ``execute_request`` message, as a browser sends it over the WebSocket."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "segwidget",
            "session": session,
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


async def kernel_round_trips(
    server: JupyterServer,
    n: int,
    *,
    code: str = "print(1)",
    warmup: int = 3,
    check: Callable[[str], Any] | None = None,
) -> list[float]:
    """Milliseconds from sending ``code`` to its reply *and* idle status, ``n`` times.

    Starts a kernel through the REST API, talks to it over the server's kernel WebSocket
    (the path a browser uses, so TCP_NODELAY on that socket matters), and deletes it. The
    first ``warmup`` requests are left out. ``check(kernel_id)`` runs once the WebSocket is
    open (e.g. to ask the server about that socket).
    """
    from tornado.websocket import websocket_connect

    kernel = server.request("POST", "/api/kernels", b"{}")["id"]
    url = (
        f"{server.ws_base}/api/kernels/{kernel}/channels"
        f"?session_id={uuid.uuid4().hex}&token={server.token}"
    )
    ws = await websocket_connect(url)
    try:
        if check is not None:
            check(kernel)
        times = []
        for _ in range(n + warmup):
            msg = execute_request(code)
            msg_id = msg["header"]["msg_id"]
            t0 = time.perf_counter()
            await ws.write_message(json.dumps(msg))
            reply = idle = False
            while not (reply and idle):
                raw = await ws.read_message()
                if raw is None:
                    raise ConnectionError("the kernel WebSocket closed")
                got = json.loads(raw)
                if got.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                reply = reply or got["msg_type"] == "execute_reply"
                idle = idle or (
                    got["msg_type"] == "status" and got["content"]["execution_state"] == "idle"
                )
            times.append((time.perf_counter() - t0) * 1000)
        return times[warmup:]
    finally:
        ws.close()
        with contextlib.suppress(Exception):
            server.request("DELETE", f"/api/kernels/{kernel}")
