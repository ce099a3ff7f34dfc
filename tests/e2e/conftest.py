"""Fixtures for the end-to-end tests: fake webcam clip, Playwright, Jupyter hosts.

The harness itself (fake video, Jupyter launcher, kernel probe, Chromium, pixel checks) is
:mod:`segwidget.bench.harness`; this file only wires it into pytest fixtures.

Every test in this folder needs Debian's Chromium and the ``playwright`` Python package
(never ``playwright install``: the system Chromium is driven through ``executable_path``);
the Jupyter host fixtures also need ``jupyterlab`` / ``notebook`` / ``voila``. Missing
pieces skip the tests that need them, with the reason.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from segwidget.bench.harness import (
    HOST_MODULE,
    WIDGET_CELLS,
    WIDGET_SELECTOR,
    FakeVideo,
    SegWidgetPage,
    WidgetHost,
    chromium_path,
    launch_chromium,
    make_fake_video,
    missing_module,
)

#: Figures the tests measured (e.g. fps / latency per host), printed in pytest's summary.
METRICS: dict[str, dict] = {}


def pytest_collection_modifyitems(config, items):
    # Everything collected from this folder is end to end.
    for item in items:
        if "/tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def metrics() -> dict[str, dict]:
    """Add ``name: {figures}`` to have them printed in pytest's summary (and saved)."""
    return METRICS


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium binary; skips when Chromium or Playwright is missing."""
    missing = missing_module("playwright")
    if missing:
        pytest.skip("the 'playwright' Python package is not installed (pip install playwright)")
    path = chromium_path()
    if not path:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium, "
            "or set SEGWIDGET_CHROMIUM to a Chromium binary)"
        )
    return path


@pytest.fixture(scope="session")
def person_engine():
    """The shipped ``person`` profile's engine (skips where the checkout has none)."""
    from segwidget import get_engine
    from segwidget.profiles import PROFILES

    if "person" not in PROFILES:
        pytest.skip("this checkout has no person profile")
    return get_engine("person")


@pytest.fixture(scope="session")
def person_colour(person_engine):
    """The person class's colour in the person palette (what ``filled`` draws)."""
    from segwidget.labels import resolve_palette

    person = person_engine.labels.index("person")
    return tuple(resolve_palette("person", 2)[person].tolist())


@pytest.fixture(scope="session")
def person_clip(tmp_path_factory, photos):
    """The astronaut moving over a plain background (harness/person.py), made once for the
    modules that stream the ``person`` profile."""
    from segwidget.bench.harness.person import make_person_clip

    return make_person_clip(
        tmp_path_factory.mktemp("person-clip") / "astronaut.y4m", photos["astronaut"]
    )


@pytest.fixture(scope="session")
def fake_video(tmp_path_factory, photos) -> FakeVideo:
    """A 3 s, 640x480, 30 fps Y4M clip of astronaut / coffee / chelsea, slowly panning."""
    return make_fake_video(tmp_path_factory.mktemp("video") / "webcam.y4m", photos)


# Package scope, not session: Playwright's sync API runs an asyncio loop in this thread
# while it is started, and the tests outside tests/e2e use asyncio.run() and Playwright of
# their own; it must be stopped when the last end-to-end test is done.
@pytest.fixture(scope="package")
def playwright_driver(chromium):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="package")
def launch_browser(playwright_driver, chromium, fake_video, tmp_path_factory):
    """``launch_browser()`` -> a fresh Chromium context (own user-data-dir, fake camera)."""
    contexts = []

    def launch():
        ctx = launch_chromium(
            playwright_driver, chromium, fake_video.path, tmp_path_factory.mktemp("chromium")
        )
        contexts.append(ctx)
        return ctx

    yield launch
    for ctx in contexts:
        ctx.close()


def require_host(kind: str) -> None:
    """Skip unless the Jupyter front-end ``kind`` ("lab" | "notebook" | "voila") is installed."""
    module = HOST_MODULE[kind]
    if missing_module(module, "jupyter_client", "jupyter_server"):
        pytest.skip(f"{module} is not installed (pip install {module})")


@pytest.fixture(scope="module")
def widget_host_factory(launch_browser, tmp_path_factory, request):
    """``factory(kind, cells, selector)`` -> a started :class:`WidgetHost`, closed at module end.

    The host serves a generated notebook made of ``cells``, opens it in Chromium, runs it (the
    app runs all cells; Voila runs them itself), waits for ``selector`` in the page and
    connects a :class:`KernelProbe` to the notebook's kernel.
    """
    hosts: list[WidgetHost] = []

    def factory(kind: str, cells: list[str], selector: str, **kwargs) -> WidgetHost:
        require_host(kind)
        host = WidgetHost(
            kind, tmp_path_factory.mktemp(f"jupyter-{kind}"), cells, selector, **kwargs
        )
        hosts.append(host)
        host.start(launch_browser)
        return host

    yield factory
    for host in hosts:
        host.close()


@pytest.fixture(scope="module")
def open_segwidget(widget_host_factory, fake_video):
    """``open_segwidget(kind)`` -> a :class:`SegWidgetPage` whose first result has arrived.

    The host runs ``SegWidget(weights="random")`` with Chromium's fake camera; the first
    ``stats['frames_processed'] > 0`` (read in the kernel) means the model loaded and frames
    went browser -> kernel -> browser.
    """

    def open_(kind: str) -> SegWidgetPage:
        host = widget_host_factory(kind, WIDGET_CELLS, WIDGET_SELECTOR)
        page = SegWidgetPage(host, fake_video)
        page.wait_frames(0, timeout=240)
        host.timings["first_result"] = round(time.monotonic() - host._t0, 2)
        return page

    return open_


def pytest_terminal_summary(terminalreporter):
    """Print what the end-to-end tests measured (fps, latency) even without ``-s``."""
    if not METRICS:
        return
    terminalreporter.section("segwidget end-to-end measurements")
    for name, values in METRICS.items():
        terminalreporter.write_line(f"{name}: {json.dumps(values)}")
    path = os.environ.get("SEGWIDGET_E2E_METRICS")
    if path:
        with open(path, "w") as fh:
            json.dump(METRICS, fh, indent=1)
        terminalreporter.write_line(f"written to {path}")
