"""marimo as a widget host: ``marimo run`` or ``marimo edit`` (headless) on a notebook, opened
in Chromium. marimo hosts anywidgets itself (``mo.ui.anywidget``): no Jupyter comm, model
messages go over its own connection, so there is no kernel probe here; the tests read the
page (the view, the cells' outputs) and drive it (the view's toolbar, marimo's UI elements).

:class:`MarimoHost` has the attributes of :class:`.host.WidgetHost` that
:meth:`.host.SegWidgetPage.wait_canvas` uses (``widget``, ``page``, ``diagnostics``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .util import PACKAGE_PARENT, free_port, wait_until

MODES = ("run", "edit")


class MarimoHost:
    """``marimo <mode> <notebook>`` on a free loopback port (no token: loopback only)."""

    def __init__(self, mode: str, notebook: Path, home: Path, selector: str, timeout: float = 180):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.notebook = notebook
        self.home = home
        self.selector = selector
        self.timeout = timeout
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = home / f"marimo-{mode}.log"
        self.context = None
        self.page = None
        self.probe = None  # no Jupyter kernel to probe in marimo
        self.console: list[str] = []
        self.timings: dict[str, float] = {}
        self._t0 = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def widget(self):
        return self.page.locator(self.selector).first

    def start(self, launch_browser: Callable[[], Any]) -> MarimoHost:
        self._t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        pp = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(PACKAGE_PARENT) + (os.pathsep + pp if pp else "")
        env["HOME"] = str(self.home)  # marimo's config and state stay in the test's home
        env["XDG_CONFIG_HOME"] = str(self.home / "config")
        # `marimo edit` runs the notebook when it opens (as `marimo run` does)
        config = self.home / "config" / "marimo" / "marimo.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("[runtime]\nauto_instantiate = true\n")
        args = [sys.executable, "-m", "marimo", self.mode, str(self.notebook), "--headless"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--no-token"]
        if self.mode == "edit":
            args.append("--skip-update-check")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=self.home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(self._ready, 60, f"marimo {self.mode} to answer", 0.2, on_timeout=self.log_tail)
        self.timings["server"] = round(time.monotonic() - self._t0, 2)
        self.context = launch_browser()
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        ms = self.timeout * 1000
        try:
            self.page.goto(self.url, timeout=ms, wait_until="domcontentloaded")
            self.page.wait_for_selector(self.selector, state="attached", timeout=ms)
        except Exception as exc:
            raise AssertionError(
                f"marimo {self.mode}: the widget did not come up ({exc}){self.diagnostics()}"
            ) from exc
        self.timings["widget"] = round(time.monotonic() - self._t0, 2)
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"marimo exited with {self.proc.returncode}{self.log_tail()}")
        try:
            with urllib.request.urlopen(self.url + "health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"\n--- last lines of {self.log_path} ---\n" + "\n".join(lines[-n:])

    def diagnostics(self, n: int = 40) -> str:
        lines = "\n".join(self.console[-n:])
        return f"\n--- browser console (marimo {self.mode}) ---\n{lines}{self.log_tail(n)}"

    def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
            self.context = None
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.proc = None
