"""The Colab box: Colab's own widget manager over a real kernel with Colab's packages.

What runs (all on loopback, nothing from the network):

- a bare Jupyter Server whose kernel runs in the box venv (``scripts/colab_box_env.sh``:
  Colab's anywidget, ipykernel, IPython, ipywidgets, traitlets, jupyter_client and numpy on
  this machine's Python) with a stand-in ``google.colab.output`` imported at start
  (``tests/colab_box/kernel``), so anywidget takes its Colab path unchanged;
- a notebook page (``tests/colab_box/page/box.js``) on the server's origin that holds the
  kernel's WebSocket, runs cells and shows each output in its own cross-origin frame
  (``127.0.0.2``), speaking to it by postMessage as Colab's outer frame does, and dropping
  the buffers of a widget's comm_open as Colab does;
- in each output frame, googlecolab/colab-cdn-widget-manager built from the vendored source
  (``build/colab-box/manager.js``, loaded from the URL the kernel put in the output's
  metadata), whose AMD loader fetches ``anywidget`` from jsDelivr: Playwright's routing
  answers those requests from ``tests/colab_box/node_modules``.

:class:`ColabBox` has the attributes of :class:`.host.WidgetHost` that
:class:`.host.SegWidgetPage` uses (``probe``, ``widget``, ``page``, ``diagnostics``).
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jupyter import JupyterServer
from .kernel_probe import KernelProbe
from .util import PACKAGE_PARENT, close_quietly, wait_until

BOX = PACKAGE_PARENT / "tests" / "colab_box"
BUILD = PACKAGE_PARENT / "build" / "colab-box"
VENV_PYTHON = BUILD / "venv" / "bin" / "python"
MANAGER_JS = BUILD / "manager.js"
NODE_MODULES = BOX / "node_modules"
#: The URL the kernel's stand-in google.colab.output gives as the widget manager's.
MANAGER_ROUTE = "https://ssl.gstatic.com/colaboratory-static/widgets/**"
CDN_ROUTE = "https://cdn.jsdelivr.net/**"
CORS = {"Access-Control-Allow-Origin": "*"}
KERNEL_NAME = "colab-box"


def box_missing() -> str | None:
    """Why the box cannot run here (what to build), or None."""
    for path in (VENV_PYTHON, MANAGER_JS, NODE_MODULES / "anywidget" / "package.json"):
        if not path.exists():
            return f"{path} is missing: run scripts/colab_box_env.sh"
    return None


def _version_ok(installed: str, wanted: str) -> bool:
    """Whether an installed package version is what a jsDelivr version range asks for (the
    ranges the manager builds: "~0.9.*", "^1.2.3", "1.2.3", "*")."""
    wanted = wanted.lstrip("~^=")
    parts = [p for p in wanted.split(".") if p not in ("*", "x", "")]
    return installed.split(".")[: len(parts)] == parts


class ColabBox:
    """Colab in a box: :meth:`start` it, :meth:`run` cells, read ``widget`` in the newest
    output frame. ``cdn`` lists each CDN request and how it was answered.

    ``url_hook`` maps the box page's URL (``http://127.0.0.1:PORT/...``) to the one to open,
    e.g. a WAN proxy's (:meth:`.wan.WanProxy.url`): the page opens its kernel WebSocket and
    asks for restarts where it came from, so all kernel traffic then crosses the proxy, as
    Colab's crosses the internet. The output frames keep their own origin (127.0.0.2 at the
    server's port, answered by routing) and reach the kernel through the page only.
    """

    def __init__(
        self,
        home: Path,
        selector: str,
        *,
        startup_timeout: float = 180,
        url_hook: Callable[[str], str] | None = None,
    ):
        self.home = home
        self.selector = selector
        self.timeout = startup_timeout
        self.url_hook = url_hook
        self.page_origin = ""  # where the box page was opened (set by start())
        data = home / "jupyter-data"
        # The box page comes from the server itself (Chromium lets only a page served from
        # loopback open the kernel's loopback WebSocket); the output frames are routed.
        self.server = JupyterServer(
            "server",
            home,
            env={"JUPYTER_PATH": str(data)},
            args=[f"--ServerApp.extra_static_paths={[str(BOX / 'page')]!r}"],
        )
        self._write_kernelspec(data / "kernels" / KERNEL_NAME)
        self.kernel_id: str | None = None
        self.context = None
        self.page = None
        self.probe: KernelProbe | None = None
        self.console: list[str] = []
        self.cdn: list[str] = []
        self.blocked: list[str] = []
        self.timings: dict[str, float] = {}
        self._t0 = 0.0

    def _write_kernelspec(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [
                str(VENV_PYTHON),
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                # Colab's runtime has google.colab.output imported before any cell runs
                "--IPKernelApp.exec_lines=import google.colab.output",
            ],
            "display_name": "Colab box (Colab's kernel packages)",
            "language": "python",
            "env": {
                "PYTHONPATH": f"{BOX / 'kernel'}:{PACKAGE_PARENT}",
                # no weights from the network: a downloadable profile fails at once
                "SEGWIDGET_OFFLINE": "1",
                "HF_HUB_OFFLINE": "1",
            },
        }
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))

    # -- the page's view of things ---------------------------------------------------------
    @property
    def outputs(self):
        """Locator of the output frames (one per widget output), in order."""
        return self.page.locator("iframe.output-frame")

    def frame(self, index: int = -1):
        """The output frame ``index`` (default: the newest), as a frame locator."""
        n = self.outputs.count()
        return self.page.frame_locator(f"iframe.output-frame >> nth={index % max(n, 1)}")

    @property
    def widget(self):
        return self.frame().locator(self.selector).first

    def _mark(self, step: str) -> None:
        self.timings[step] = round(time.monotonic() - self._t0, 2)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, launch_browser: Callable[[], Any]) -> ColabBox:
        """Start the server and the box's kernel, open the box page, connect the probe."""
        why = box_missing()
        if why:
            raise RuntimeError(why)
        self._t0 = time.monotonic()
        self.server.start()
        self.kernel_id = self.server.request(
            "POST", "/api/kernels", json.dumps({"name": KERNEL_NAME}).encode()
        )["id"]
        self._mark("server")
        port = self.server.port
        url = (
            f"http://127.0.0.1:{port}/static/box.html?kernel={self.kernel_id}"
            f"&token={self.server.token}&output_origin=http://127.0.0.2:{port}"
        )
        if self.url_hook is not None:
            url = self.url_hook(url)
        self.page_origin = "/".join(url.split("/", 3)[:3])
        self.context = launch_browser()
        self._route(self.context)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        ms = self.timeout * 1000
        try:
            self.page.goto(url, timeout=ms, wait_until="domcontentloaded")
            self.page.wait_for_function("() => window.box", timeout=ms)
            self.page.evaluate("() => window.box.ready")
        except Exception as exc:
            raise AssertionError(
                f"the Colab box did not come up ({exc}){self.diagnostics()}"
            ) from exc
        path = self.server.runtime_dir / f"kernel-{self.kernel_id}.json"
        wait_until(path.exists, self.timeout, f"{path}", on_timeout=self.server.log_tail)
        self.probe = KernelProbe(path, timeout=self.timeout)
        self._mark("probe")
        return self

    def _route(self, context) -> None:
        page_dir = BOX / "page"

        def local(route, request) -> None:
            name = request.url.split("/colab-box/", 1)[1].split("?", 1)[0]
            path = (page_dir / name).resolve()
            if page_dir.resolve() not in path.parents or not path.is_file():
                route.fulfill(status=404, body=f"not in the box: {name}")
                return
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=path.read_bytes(), content_type=ctype)

        def manager(route, request) -> None:
            self.cdn.append(f"{request.url} -> {MANAGER_JS.relative_to(PACKAGE_PARENT)}")
            route.fulfill(
                status=200,
                body=MANAGER_JS.read_bytes(),
                content_type="text/javascript",
                headers=CORS,
            )

        def cdn(route, request) -> None:
            status, body, where = self._cdn_file(request.url)
            self.cdn.append(f"{request.url} -> {status} {where}")
            ctype = "text/css" if request.url.endswith(".css") else "text/javascript"
            route.fulfill(status=status, body=body, content_type=ctype, headers=CORS)

        def elsewhere(route, request) -> None:
            url = request.url
            page = url.startswith(f"{self.page_origin}/")  # also where url_hook sent it
            if page or re.match(r"^(https?|wss?)://127\.0\.0\.1:", url) or url.startswith("data:"):
                route.fallback()
                return
            self.blocked.append(url)
            route.abort()

        context.route("**/*", elsewhere)  # registered first: tried last
        context.route(CDN_ROUTE, cdn)
        context.route(MANAGER_ROUTE, manager)
        context.route(re.compile(r"^http://127\.0\.0\.2:\d+/colab-box/"), local)

    def _cdn_file(self, url: str) -> tuple[int, bytes, str]:
        """A jsDelivr npm URL answered from the box's node_modules (version checked)."""
        m = re.match(r"https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^@/]+)@([^/]+)/(.+)$", url)
        if not m:
            return 404, b"", "(not an npm URL)"
        name, wanted, file = m.group(1), m.group(2), m.group(3).split("?")[0]
        if name == "font-awesome":  # the manager's icon font: not needed by segwidget
            return 200, b"", "(empty stylesheet)"
        from urllib.parse import unquote

        wanted = unquote(wanted)
        pkg = NODE_MODULES / name
        try:
            installed = json.loads((pkg / "package.json").read_text())["version"]
        except (OSError, ValueError):
            return 404, b"", f"({name} is not in {NODE_MODULES})"
        if not _version_ok(installed, wanted):
            return 404, b"", f"({name} {installed} does not match {wanted})"
        path = (pkg / file).resolve()
        if pkg.resolve() not in path.parents or not path.is_file():
            return 404, b"", f"({file} not in {name} {installed})"
        return 200, path.read_bytes(), f"{name} {installed} {file}"

    def run(self, code: str, timeout: float | None = None) -> dict[str, Any]:
        """Run one cell in the box page (outputs shown as Colab shows them); its result.
        Raises AssertionError when the cell fails."""
        ms = (timeout or self.timeout) * 1000
        result = self.page.evaluate(
            f"(code) => Promise.race([box.run(code), new Promise((_, no) => "
            f"setTimeout(() => no(new Error('cell timed out')), {ms}))])",
            code,
        )
        if result["error"]:
            raise AssertionError(f"cell failed: {result['error']}\n{code}{self.diagnostics(15)}")
        return result

    def wait_widget(self, timeout: float | None = None) -> None:
        """Wait until the newest output frame shows ``selector``."""
        ms = (timeout or self.timeout) * 1000
        try:
            self.widget.wait_for(state="attached", timeout=ms)
        except Exception as exc:
            raise AssertionError(
                f"no widget in the output frame ({exc}){self.diagnostics()}"
            ) from exc
        self._mark("widget")

    def restart_kernel(self) -> None:
        """Restart the box's kernel as Colab's "Restart session" does (from the page, which
        then closes the old kernel's comms)."""
        self.page.evaluate("() => window.box.restart()")

    def diagnostics(self, n: int = 40) -> str:
        lines = "\n".join(self.console[-n:])
        box_log: list[str] = []
        with contextlib.suppress(Exception):
            box_log = self.page.evaluate("() => window.box.log.slice(-20)")
        return (
            f"\n--- browser console (colab box) ---\n{lines}"
            f"\n--- box log ---\n"
            + "\n".join(box_log)
            + "\n--- CDN ---\n"
            + "\n".join(self.cdn[-10:])
            + f"\n--- blocked ---\n{self.blocked[-10:]}"
            + self.server.log_tail(n)
        )

    def close(self) -> None:
        close_quietly(self.probe, self.context)
        self.probe = self.context = None
        self.server.stop()
