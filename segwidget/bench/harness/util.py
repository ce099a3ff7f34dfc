"""Small helpers of the end-to-end harness: what is installed, waiting on real state, ports."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The directory that holds the ``segwidget`` package: put on a Jupyter server's PYTHONPATH so
#: its kernels import this very copy (a source checkout or an installed one).
PACKAGE_PARENT = Path(__file__).resolve().parents[3]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


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
    for name in names:
        if importlib.util.find_spec(name) is None:
            return name
    return None


#: pip package of each Python module the harness may need.
PIP_NAMES = {
    "playwright": "playwright",
    "jupyterlab": "jupyterlab",
    "notebook": "notebook",
    "voila": "voila",
    "jupyter_client": "jupyter_client",
    "jupyter_server": "jupyter_server",
    "ipywidgets": "ipywidgets",
    "uvicorn": "segwidget[server]",
    "fastapi": "segwidget[server]",
}


def missing_requirements(*modules: str, chromium: bool = True) -> str | None:
    """Why the harness cannot run here (a sentence with the fix), or None when it can."""
    if chromium and not chromium_path():
        return (
            "Chromium is not installed (apt-get install -y chromium, "
            "or set SEGWIDGET_CHROMIUM to a Chromium binary)"
        )
    for name in ("playwright", *modules) if chromium else modules:
        if missing_module(name):
            pip = PIP_NAMES.get(name, name)
            return f"the {name!r} Python package is not installed (pip install '{pip}')"
    return None


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; return it.

    Used only for state that lives in another process (an HTTP endpoint, a kernel variable,
    the page): each poll reads the real state, nothing assumes that time alone made it ready.
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


def close_quietly(*things: Any) -> None:
    """Close each of ``things`` that is not None, whatever the ones before raised (teardown:
    a probe or a browser context that is already gone must not keep the rest open)."""
    for thing in things:
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()
