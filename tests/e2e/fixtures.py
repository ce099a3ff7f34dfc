"""Helpers for the end-to-end tests: fake webcam video, Jupyter servers, kernel probe, browser.

Nothing here is a pytest fixture; ``conftest.py`` wires these helpers into fixtures so that
other end-to-end modules (e.g. the standalone page tests) can reuse them directly.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Figures the tests measured (e.g. fps / latency per host), printed in pytest's summary.
METRICS: dict[str, dict[str, Any]] = {}

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

# Flags from the brief: a headless, offline, reproducible Chromium with a fake camera that
# plays the generated Y4M file and grants camera permission without a prompt.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Keep timers and rAF running at full speed in a page that is never "visible".
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


# --------------------------------------------------------------------------------------------
# What is installed
# --------------------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """The Chromium binary to drive: ``$SEGWIDGET_CHROMIUM`` or Debian's ``chromium``."""
    env = os.environ.get("SEGWIDGET_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def missing_module(*names: str) -> str | None:
    """The first of ``names`` that cannot be imported, or None."""
    import importlib.util

    for name in names:
        if importlib.util.find_spec(name) is None:
            return name
    return None


# --------------------------------------------------------------------------------------------
# Fake webcam: a Y4M clip made from real photos
# --------------------------------------------------------------------------------------------


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range YUV 4:2:0 (what Chromium assumes for a Y4M capture)."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def q(c: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return q(y), q(sub(u)), q(sub(v))


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_i420` (chroma upsampled by repetition)."""
    yf = (y.astype(np.float64) - 16) * (255 / 219)
    uf = (np.repeat(np.repeat(u, 2, 0), 2, 1).astype(np.float64) - 128) * (255 / 224)
    vf = (np.repeat(np.repeat(v, 2, 0), 2, 1).astype(np.float64) - 128) * (255 / 224)
    r = yf + 1.402 * vf
    g = yf - 0.344136 * uf - 0.714136 * vf
    b = yf + 1.772 * uf
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


@dataclass
class FakeVideo:
    """The clip Chromium's fake camera loops over, and its frames as RGB for comparisons."""

    path: Path
    width: int
    height: int
    fps: int
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB, decoded back from the Y4M
    sources: list[str]  # photo name of each frame
    _scaled: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def scaled(self, width: int, height: int) -> np.ndarray:
        """All frames resized to ``width x height`` (area averaging), as float32."""
        key = (width, height)
        if key not in self._scaled:
            from PIL import Image

            self._scaled[key] = np.stack(
                [
                    np.asarray(Image.fromarray(f).resize(key, Image.BOX), dtype=np.float32)
                    for f in self.frames
                ]
            )
        return self._scaled[key]

    def nearest(self, image: np.ndarray, size: tuple[int, int] = (160, 120)) -> tuple[int, float]:
        """The source frame closest to ``image`` (RGB, any size with the clip's aspect).

        Both are box-downscaled to ``size`` first, which absorbs resampling and JPEG noise.
        Returns ``(frame index, mean absolute difference in 0..255 per channel)``.
        """
        from PIL import Image

        small = np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.BOX),
            dtype=np.float32,
        )
        ref = self.scaled(*size)
        diffs = np.abs(ref - small[None]).mean(axis=(1, 2, 3))
        i = int(np.argmin(diffs))
        return i, float(diffs[i])

    def nearest_map(self, image: np.ndarray) -> tuple[int, np.ndarray]:
        """Nearest source frame at ``image``'s own size and the per-pixel abs difference map."""
        h, w = image.shape[:2]
        i, _ = self.nearest(image)
        ref = self.scaled(w, h)[i]
        return i, np.abs(ref - image[..., :3].astype(np.float32)).mean(axis=-1)


def make_fake_video(
    path: Path,
    photos: dict[str, np.ndarray],
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    frames_per_photo: int = 30,
    pan_px: int = 2,
) -> FakeVideo:
    """Write a YUV4MPEG2 (C420) clip: each photo in turn, panning ``pan_px`` per frame."""
    margin = pan_px * frames_per_photo
    frames: list[np.ndarray] = []
    names: list[str] = []
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for name, photo in photos.items():
            # Cover (width + margin) x (height + margin), keeping the aspect, then pan a window.
            cw, ch = width + margin, height + margin
            scale = max(cw / photo.shape[1], ch / photo.shape[0])
            big = _resize(
                photo[..., :3], round(photo.shape[1] * scale), round(photo.shape[0] * scale)
            )
            oy = (big.shape[0] - ch) // 2
            ox = (big.shape[1] - cw) // 2
            for k in range(frames_per_photo):
                d = k * pan_px
                crop = big[oy + d // 2 : oy + d // 2 + height, ox + d : ox + d + width]
                y, u, v = rgb_to_i420(crop)
                fh.write(b"FRAME\n")
                fh.write(y.tobytes())
                fh.write(u.tobytes())
                fh.write(v.tobytes())
                frames.append(i420_to_rgb(y, u, v))
                names.append(name)
    return FakeVideo(path, width, height, fps, np.stack(frames), names)


# --------------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; return it.

    Used only for state that lives in another process (an HTTP endpoint, a kernel variable):
    each poll reads the real state, nothing assumes that time alone made it ready.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            extra = on_timeout() if on_timeout else ""
            cause = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{cause}{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Notebook
# --------------------------------------------------------------------------------------------


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

HOSTS = ("lab", "notebook", "voila")
HOST_MODULE = {"lab": "jupyterlab", "notebook": "notebook", "voila": "voila"}


class JupyterServer:
    """``jupyter lab``, ``jupyter notebook`` or ``voila`` on a free loopback port with a token.

    Everything the server writes (runtime dir with the kernels' connection files, config,
    workspaces, user settings, IPython dir) lives under ``home``; the notebook lives in
    ``home / "root"``.
    """

    def __init__(self, kind: str, home: Path, notebook: str, env: dict[str, str] | None = None):
        if kind not in HOSTS:
            raise ValueError(f"kind must be one of {HOSTS}")
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

    def get_json(self, path: str, timeout: float = 5) -> Any:
        req = urllib.request.Request(self.url(path))
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

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
            ]
        app = "LabApp" if self.kind == "lab" else "JupyterNotebookApp"
        return [
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
            # window.jupyterapp, as JupyterLab's own Playwright tool (Galata) uses it.
            f"--{app}.expose_app_in_browser=True",
            f"--{app}.user_settings_dir={self.home / 'config' / 'lab' / 'user-settings'}",
            f"--{app}.workspaces_dir={self.home / 'config' / 'lab' / 'workspaces'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
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
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_CONFIG_DIR=str(config),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        pp = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
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

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
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
# Kernel probe: a second client on the notebook's own kernel
# --------------------------------------------------------------------------------------------


class KernelError(RuntimeError):
    pass


class KernelProbe:
    """Runs code in the notebook's kernel over ZeroMQ, beside the browser's connection.

    The kernel answers our requests on our own socket, and publishes their outputs with our
    request as parent, so the notebook shown in the browser never displays them. Widget
    trait changes made this way reach the browser like any other kernel-side change.
    """

    def __init__(self, connection_file: Path):
        from jupyter_client import BlockingKernelClient

        self.connection_file = connection_file
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(connection_file))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def close(self) -> None:
        self.client.stop_channels()

    def execute(self, code: str, timeout: float = 60) -> str:
        """Run ``code``; return its stdout. Raises :class:`KernelError` with the traceback."""
        out: list[str] = []
        err: list[str] = []

        def hook(msg: dict) -> None:
            t = msg["header"]["msg_type"]
            c = msg["content"]
            if t == "stream":
                (out if c["name"] == "stdout" else err).append(c["text"])
            elif t == "error":
                err.append("\n".join(c.get("traceback", [])) or f"{c['ename']}: {c['evalue']}")

        reply = self.client.execute_interactive(
            code, store_history=False, allow_stdin=False, timeout=timeout, output_hook=hook
        )
        content = reply["content"]
        if content["status"] != "ok":
            raise KernelError(
                f"{content.get('ename')}: {content.get('evalue')}\n{''.join(err)}\ncode:\n{code}"
            )
        return "".join(out)

    def eval(self, expr: str, timeout: float = 60) -> Any:
        """The JSON value of a Python expression evaluated in the kernel."""
        code = (
            f"import json as _segw_json\nprint('\\x1e' + _segw_json.dumps(({expr}), default=repr))"
        )
        text = self.execute(code, timeout)
        return json.loads(text.rsplit("\x1e", 1)[1])

    def wait_for(self, expr: str, timeout: float, what: str | None = None) -> Any:
        """Poll ``expr`` in the kernel until it is truthy; return its value.

        Short evaluations only: the kernel has to keep serving the widget's comm messages, so
        the waiting happens here, not in a blocking loop inside the kernel.
        """
        last: list[Any] = [None]

        def check() -> Any:
            last[0] = self.eval(expr)
            return last[0]

        return wait_until(
            check,
            timeout,
            what or expr,
            interval=0.25,
            on_timeout=lambda: f"; last value: {last[0]!r}",
        )


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------


def launch_chromium(playwright, executable: str, video: Path, user_data_dir: Path):
    """A persistent headless Chromium context whose fake camera plays ``video``."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=executable,
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
        viewport={"width": 1400, "height": 1000},
        permissions=["camera"],
        ignore_default_args=["--enable-automation"],
    )


def decode_data_url(url: str) -> np.ndarray:
    """RGBA pixels of a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    head, _, data = url.partition(",")
    if not head.startswith("data:image/png;base64"):
        raise ValueError(f"not a PNG data URL: {head[:40]!r}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


# Reads a canvas's backing store losslessly, whatever its context type: copy it into a fresh
# 2d canvas and export PNG.
JS_CANVAS_PNG = """(canvas) => {
  const c = document.createElement('canvas');
  c.width = canvas.width; c.height = canvas.height;
  c.getContext('2d').drawImage(canvas, 0, 0);
  return c.toDataURL('image/png');
}"""


def read_canvas(locator) -> np.ndarray:
    """RGBA pixels of the canvas a Playwright locator points at."""
    return decode_data_url(locator.evaluate(JS_CANVAS_PNG))


def palette_fraction(rgba: np.ndarray, palette: Iterable[Iterable[int]]) -> float:
    """Fraction of pixels whose RGB is exactly one of ``palette``'s colours."""
    rgb = rgba[..., :3].reshape(-1, 3).astype(np.int32)
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    pal = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], dtype=np.int32)
    return float(np.isin(codes, pal).mean())


def colour_fraction(rgba: np.ndarray, colour: Iterable[int]) -> float:
    return float(np.all(rgba[..., :3] == np.asarray(list(colour))[None, None], axis=-1).mean())


# --------------------------------------------------------------------------------------------
# A notebook with a widget, open in a Jupyter host in Chromium
# --------------------------------------------------------------------------------------------

# The notebook panel's kernel, as the app itself sees it (Lab 4 and Notebook 7 share this).
JS_KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell && app.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  return !!(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
            && panel.content && panel.content.widgets && panel.content.widgets.length > 0);
}"""

# Every code cell has run (has an execution count) and the kernel is idle again.
JS_ALL_CELLS_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
  return kernel.status === 'idle' && cells.every((c) => c.model.executionCount != null);
}"""

JS_CELL_ERRORS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content) return [];
  const errors = [];
  for (const cell of panel.content.widgets) {
    const outputs = cell.model.outputs;
    if (!outputs) continue;
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs.get(i).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
  }
  return errors;
}"""


class WidgetHost:
    """A generated notebook served by ``kind``, open and run in Chromium, plus a kernel probe.

    ``page``: the Playwright page; ``widget``: a locator for ``selector`` (the widget's root
    element); ``probe``: a :class:`KernelProbe` on the notebook's kernel; ``console``: the
    page's console messages and errors, for failure reports.
    """

    def __init__(
        self,
        kind: str,
        home: Path,
        cells: list[str],
        selector: str,
        *,
        startup_timeout: float = 180,
        env: dict[str, str] | None = None,
    ):
        self.kind = kind
        self.home = home
        self.cells = cells
        self.selector = selector
        self.timeout = startup_timeout
        self.server = JupyterServer(kind, home, "e2e.ipynb", env=env)
        self.context = None
        self.page = None
        self.probe: KernelProbe | None = None
        self.console: list[str] = []
        self.timings: dict[str, float] = {}  # seconds from start() to each step
        self._t0 = 0.0

    @property
    def widget(self):
        return self.page.locator(self.selector).first

    def _mark(self, step: str) -> None:
        self.timings[step] = round(time.monotonic() - self._t0, 2)

    def start(self, launch_browser: Callable[[], Any]) -> WidgetHost:
        self._t0 = time.monotonic()
        self.server.root.mkdir(parents=True, exist_ok=True)
        write_notebook(self.server.root / self.server.notebook, self.cells)
        self.server.start()
        self._mark("server")
        self.context = launch_browser()
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        self._mark("browser")
        ms = self.timeout * 1000
        try:
            # Voila executes the notebook before it answers, then renders the widgets; Lab and
            # Notebook answer at once and the app starts the kernel.
            self.page.goto(self.server.page_url, timeout=ms, wait_until="domcontentloaded")
            self._mark("page")
            if self.kind != "voila":
                self.page.wait_for_function(JS_KERNEL_IDLE, timeout=ms)
                self._mark("kernel_idle")
                self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                self.page.wait_for_function(JS_ALL_CELLS_RAN, timeout=ms)
                self._mark("cells_ran")
                errors = self.page.evaluate(JS_CELL_ERRORS)
                if errors:
                    raise AssertionError(f"notebook cells failed: {errors}")
            self.page.wait_for_selector(self.selector, state="attached", timeout=ms)
            self._mark("widget")
        except Exception as exc:
            raise AssertionError(
                f"{self.kind}: the widget did not come up ({exc}){self.diagnostics()}"
            ) from exc
        self.probe = KernelProbe(self.server.kernel_connection_file(self.timeout))
        self._mark("probe")
        return self

    def diagnostics(self, n: int = 40) -> str:
        """Browser console, page text (Voila shows notebook errors there) and server log."""
        lines = "\n".join(self.console[-n:])
        text = ""
        if self.kind == "voila" and self.page is not None:
            with contextlib.suppress(Exception):
                text = f"\n--- page text ---\n{self.page.inner_text('body', timeout=2000)[:2000]}"
        return f"\n--- browser console ({self.kind}) ---\n{lines}{text}{self.server.log_tail(n)}"

    def close(self) -> None:
        if self.probe is not None:
            with contextlib.suppress(Exception):
                self.probe.close()
            self.probe = None
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
            self.context = None
        self.server.stop()
