"""A notebook open in a Jupyter host in Chromium, with a probe on its kernel; SegWidget in it.

:class:`WidgetHost` serves a generated notebook (JupyterLab, Notebook 7 or Voila), opens it
in Chromium, runs it and waits for a selector; :class:`SegWidgetPage` drives a running
``SegWidget`` from both sides (traits and stats in the kernel, pixels in the page).
"""

from __future__ import annotations

import base64
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .browser import read_canvas
from .jupyter import JupyterServer, write_notebook
from .kernel_probe import KernelProbe
from .util import close_quietly, wait_until
from .video import FakeVideo

WIDGET_SELECTOR = ".segwidget canvas.sw-canvas"

# The notebook every host runs. `w` is the name the probe uses.
WIDGET_CELLS = [
    "from segwidget import SegWidget\n\nw = SegWidget(weights='random')\nw",
]


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

JS_RESTART_KERNEL = """() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel
  .restart()"""

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
        server_args: Sequence[str] = (),
        init_scripts: Sequence[str] = (),
        lab_settings: dict[str, dict] | None = None,
        url_hook: Callable[[str], str] | None = None,
    ):
        self.kind = kind
        self.home = home
        self.cells = cells
        self.selector = selector
        self.timeout = startup_timeout
        self.server = JupyterServer(
            kind, home, "e2e.ipynb", env=env, args=server_args, lab_settings=lab_settings
        )
        self.init_scripts = list(init_scripts)
        self.url_hook = url_hook  # the page's URL -> the one to open (a WAN proxy's: wan.py)
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
        """Start the server, open the notebook in ``launch_browser()`` (a fresh context), run
        it, wait for the selector and connect the probe. Raises AssertionError with the
        diagnostics when the widget does not come up."""
        self._t0 = time.monotonic()
        self.server.root.mkdir(parents=True, exist_ok=True)
        write_notebook(self.server.root / self.server.notebook, self.cells)
        self.server.start()
        self._mark("server")
        self.context = launch_browser()
        for script in self.init_scripts:  # run in the page before any of its own scripts
            self.context.add_init_script(script)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        self._mark("browser")
        ms = self.timeout * 1000
        try:
            # Voila executes the notebook before it answers, then renders the widgets; Lab and
            # Notebook answer at once and the app starts the kernel.
            url = self.url_hook(self.server.page_url) if self.url_hook else self.server.page_url
            self.page.goto(url, timeout=ms, wait_until="domcontentloaded")
            self._mark("page")
            if self.kind != "voila":
                self.run_all_cells()
            self.page.wait_for_selector(self.selector, state="attached", timeout=ms)
            self._mark("widget")
        except Exception as exc:
            raise AssertionError(
                f"{self.kind}: the widget did not come up ({exc}){self.diagnostics()}"
            ) from exc
        self.probe = KernelProbe(self.server.kernel_connection_file(self.timeout))
        self._mark("probe")
        return self

    def run_all_cells(self) -> None:
        """Run the notebook as a user would (Run All) once its kernel is idle; wait until
        every cell ran. Raises AssertionError with the cells' errors."""
        ms = self.timeout * 1000
        self.page.wait_for_function(JS_KERNEL_IDLE, timeout=ms)
        self._mark("kernel_idle")
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(JS_ALL_CELLS_RAN, timeout=ms)
        self._mark("cells_ran")
        errors = self.page.evaluate(JS_CELL_ERRORS)
        if errors:
            raise AssertionError(f"notebook cells failed: {errors}")

    def restart_kernel(self) -> None:
        """Restart the notebook's kernel as the app's Restart Kernel does (after its
        dialog); returns once the app has the restarted kernel."""
        self.page.evaluate(JS_RESTART_KERNEL)

    def diagnostics(self, n: int = 40) -> str:
        """Browser console, page text (Voila shows notebook errors there) and server log."""
        lines = "\n".join(self.console[-n:])
        text = ""
        if self.kind == "voila" and self.page is not None:
            with contextlib.suppress(Exception):
                text = f"\n--- page text ---\n{self.page.inner_text('body', timeout=2000)[:2000]}"
        return f"\n--- browser console ({self.kind}) ---\n{lines}{text}{self.server.log_tail(n)}"

    def close(self) -> None:
        close_quietly(self.probe, self.context)
        self.probe = self.context = None
        self.server.stop()


class SegWidgetPage:
    """A running ``SegWidget`` as seen from both sides: the page's canvas and the kernel."""

    def __init__(self, host: WidgetHost, video: FakeVideo):
        self.host = host
        self.video = video
        self.probe = host.probe

    # -- kernel side -------------------------------------------------------------------------
    def set(self, **traits: Any) -> None:
        """Set traits from Python, as a user would in another cell."""
        code = "\n".join(f"w.{k} = {v!r}" for k, v in traits.items())
        self.probe.execute(code)

    def get(self, name: str) -> Any:
        return self.probe.eval(f"w.{name}")

    def stats(self) -> dict[str, Any]:
        return self.probe.eval("dict(w.stats)")

    def frames_processed(self) -> int:
        return int(self.probe.eval("w.stats.get('frames_processed', 0)"))

    def wait_frames(self, more_than: int, timeout: float = 60) -> int:
        """Wait until ``stats['frames_processed'] > more_than``; return the new count."""
        return int(
            self.probe.wait_for(
                f"(w.stats.get('frames_processed', 0) > {int(more_than)}) and "
                "w.stats['frames_processed']",
                timeout,
                f"stats['frames_processed'] > {more_than}{self._why()}",
            )
        )

    def _why(self) -> str:
        try:
            err = self.probe.eval("w.error")
        except Exception as exc:
            err = repr(exc)
        return f" (w.error: {err})"

    def latest(self) -> dict[str, Any]:
        """``w.latest()`` as plain data: frame and mask as numpy arrays, classes, profile."""
        b64 = "__import__('base64').b64encode(__import__('numpy').ascontiguousarray({}).tobytes())"
        data = self.probe.eval(
            "(lambda r: None if r is None else {"
            f"'frame': {b64.format('r.frame')}.decode(), 'shape': list(r.frame.shape),"
            f"'dtype': str(r.frame.dtype), 'mask': {b64.format('r.mask')}.decode(),"
            "'mask_shape': list(r.mask.shape),"
            "'classes': r.classes, 'profile': r.profile, 'seq': r.seq})(w.latest())"
        )
        if data is None:
            return None
        data["frame"] = np.frombuffer(base64.b64decode(data["frame"]), dtype=data["dtype"]).reshape(
            data["shape"]
        )
        data["mask"] = np.frombuffer(base64.b64decode(data["mask"]), np.uint8).reshape(
            data["mask_shape"]
        )
        return data

    def steady_stats(self, samples: int = 5, timeout: float = 60) -> dict[str, float]:
        """Medians of fps / latency_ms / inference_ms over ``samples`` distinct stats updates."""
        seen: list[dict[str, Any]] = []

        def collect() -> bool:
            s = self.stats()
            if s and (not seen or s.get("frames_processed") != seen[-1].get("frames_processed")):
                seen.append(s)
            return len(seen) >= samples

        wait_until(collect, timeout, f"{samples} stats updates", interval=0.25)
        out: dict[str, float] = {}
        for key in ("fps", "latency_ms", "inference_ms"):
            values = [float(s[key]) for s in seen if s.get(key) is not None]
            if values:
                out[key] = round(statistics.median(values), 2)
        out["samples"] = len(seen)
        out["frames_processed"] = seen[-1].get("frames_processed")
        return out

    # -- page side ---------------------------------------------------------------------------
    def canvas(self) -> np.ndarray:
        return read_canvas(self.host.widget)

    def wait_canvas(self, check, timeout: float = 20, what: str = "the canvas") -> Any:
        """Poll the canvas until ``check(rgba)`` returns ``(True, info)``; return ``info``.

        A trait change travels kernel -> browser asynchronously and the view redraws on the
        next video frame; each poll reads the canvas as it is now. On timeout the error
        shows the last ``info``.
        """
        last: list[Any] = [None]

        def attempt() -> Any:
            ok, info = check(self.canvas())
            last[0] = info
            return (info,) if ok else None

        return wait_until(
            attempt,
            timeout,
            what,
            interval=0.2,
            on_timeout=lambda: f"; last check: {last[0]}{self.host.diagnostics(15)}",
        )[0]
