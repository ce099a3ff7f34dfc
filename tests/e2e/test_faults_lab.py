"""Faults the widget meets in JupyterLab, end to end, with Chromium's fake webcam:

- the camera track ends inside the widget: CAMERA_CLOSED in the view and in ``w.error``, the
  view tries again and streams;
- the kernel is busy in another cell: the view says it waits for the kernel, and when the cell
  is done it streams again by itself without drawing the stale frames;
- the browser's connection to the Jupyter server drops (the network goes away) while the
  kernel lives: the view says it waits, and streams again by itself when the network is back;
- the kernel restarts under the streaming widget: the old view says so, releases the camera
  and throws nothing; the cell run again gives a new widget that streams.

The restart test comes last in this module: it replaces the kernel the others use.
"""

from __future__ import annotations

import threading

import pytest

from segwidget.bench.harness import (
    JS_LIVE_TRACKS,
    JS_RECORD_STREAMS,
    WIDGET_CELLS,
    WIDGET_SELECTOR,
    SegWidgetPage,
    wait_until,
)

pytestmark = pytest.mark.e2e

# The page's own record, on one client clock (ms): frames sent, results drawn, link states;
# and every camera stream the page was given.
INIT_SCRIPT = (
    """
window.__swEvents = [];
document.addEventListener('segwidget:frame', (e) => {
  window.__swEvents.push(['frame', e.detail.seq, e.detail.t_sent, e.detail.in_flight,
    e.detail.max_in_flight]);
}, true);
document.addEventListener('segwidget:render', (e) => {
  window.__swEvents.push(['render', e.detail.seq, e.detail.t_capture]);
}, true);
document.addEventListener('segwidget:link', (e) => {
  window.__swEvents.push(['link', e.detail.state, e.detail.t]);
}, true);
"""
    + JS_RECORD_STREAMS
)
JS_MARK = "() => window.__swEvents.length"
JS_EVENTS_SINCE = "(mark) => window.__swEvents.slice(mark)"
JS_BANNER = """() => { const b = document.querySelector('.segwidget [role=alert]');
  return b && !b.hidden ? b.querySelector('.sw-banner-code').textContent : null; }"""
JS_STATUS = """() => { const s = document.querySelector('.segwidget .sw-status');
  return s && !s.hidden ? s.textContent : null; }"""
JS_STAGE = """() => { const v = document.querySelector('.segwidget');
  const p = v.querySelector('.sw-placeholder');
  return {placeholder: p.hidden ? null : p.textContent,
          canvas_hidden: v.querySelector('canvas.sw-canvas').hidden,
          video_stream: v.querySelector('video').srcObject !== null,
          views: document.querySelectorAll('.segwidget').length}; }"""
# The camera goes away as when it is unplugged: the track stops and says `ended` (stop()
# alone fires nothing); the banner is read at once.
JS_END_TRACK = """() => {
  const track = document.querySelector('.segwidget video').srcObject.getVideoTracks()[0];
  const mark = window.__swEvents.length;
  track.stop();
  track.dispatchEvent(new Event('ended'));
  const b = document.querySelector('.segwidget [role=alert]');
  return [mark, !b.hidden ? b.querySelector('.sw-banner-code').textContent : null];
}"""


# JupyterLab >= 4.5 sends comm messages over a kernel subshell where the kernel has them
# (ipykernel 7), once that subshell exists: then a busy cell does not hold the widget's frames
# at all. That subshell is made asynchronously, so whether the widget's comm gets one varies
# from run to run. Here comms stay on the main shell, as with older JupyterLab, Notebook,
# Voila and other frontends, where a busy cell does hold them.
MAIN_SHELL_COMMS = {
    "@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": "disabled"}
}


@pytest.fixture(scope="module")
def lab(widget_host_factory, fake_video):
    host = widget_host_factory(
        "lab",
        WIDGET_CELLS,
        WIDGET_SELECTOR,
        init_scripts=[INIT_SCRIPT],
        lab_settings=MAIN_SHELL_COMMS,
    )
    page = SegWidgetPage(host, fake_video)
    page.wait_frames(0, timeout=240)
    return page


def _page_errors(host, since: int = 0) -> list[str]:
    return [
        line
        for line in host.console[since:]
        if line.startswith(("[pageerror]", "[error] segwidget"))
    ]


def _waiting_for_the_kernel(page) -> str | None:
    text = page.evaluate(JS_STATUS) or ""
    return text if text.startswith("Waiting for the kernel") else None


def _renders_after(page, mark: int) -> int:
    return sum(e[0] == "render" for e in page.evaluate(JS_EVENTS_SINCE, mark))


def _streams_again(lab, since: int, diag) -> None:
    """Results are drawn after event ``since`` and the kernel processes new frames."""
    processed = lab.frames_processed()
    wait_until(
        lambda: _renders_after(lab.host.page, since) >= 5, 60, "results again", on_timeout=diag
    )
    lab.wait_frames(processed + 3)


def test_a_camera_that_ends_in_the_widget_says_camera_closed_and_streams_again(lab):
    host, page = lab.host, lab.host.page
    diag = lambda: host.diagnostics(30)  # noqa: E731
    lab.wait_frames(3)
    errors_at = len(host.console)
    # every value `w.error` takes, as the kernel sets it
    lab.probe.execute(
        "_segw_errors = []\n"
        "_segw_watch = lambda change: _segw_errors.append(change['new'])\n"
        "w.observe(_segw_watch, names='error')"
    )
    try:
        mark, code = page.evaluate(JS_END_TRACK)
        assert code == "CAMERA_CLOSED", diag()
        # the retry (after 1 s) opens the fake camera again: the banner and w.error clear
        wait_until(lambda: page.evaluate(JS_BANNER) is None, 30, "no banner", on_timeout=diag)
        lab.probe.wait_for("w.error is None and len(_segw_errors) >= 2", 30, "w.error cleared")
        _streams_again(lab, mark, diag)
        seen = lab.probe.eval("_segw_errors")
    finally:
        lab.probe.execute("w.unobserve(_segw_watch, names='error')")
    assert seen[0]["code"] == "CAMERA_CLOSED", seen
    assert seen[0]["recoverable"] is True, seen
    assert seen[-1] is None, seen
    assert page.evaluate(JS_LIVE_TRACKS) == 1  # the ended track is not held beside the new one
    assert lab.get("running") is True
    assert not _page_errors(host, errors_at), diag()


def test_a_kernel_busy_in_another_cell_shows_waiting_and_resumes_without_stale_frames(
    lab, tmp_path
):
    host, page = lab.host, lab.host.page
    diag = lambda: host.diagnostics(30)  # noqa: E731
    lab.wait_frames(3)
    errors_at = len(host.console)
    mark = page.evaluate(JS_MARK)
    # A cell that keeps the kernel busy: ipykernel handles no comm message meanwhile. (The
    # probe's request is a cell like any other to the kernel, run from this second client.)
    # The cell stays busy until the test has seen the state (the test writes `done`), so a
    # loaded machine's long round trips cannot make the cell end first; 100 s at most.
    outcome: list[BaseException | None] = []
    started, done = tmp_path / "started", tmp_path / "done"
    cell = (
        "import pathlib, time\n_segw_t0 = time.monotonic()\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(done)!r}).exists() and time.monotonic() - _segw_t0 < 100:\n"
        "    time.sleep(0.05)"
    )

    def busy_cell() -> None:
        try:
            lab.probe.execute(cell, timeout=150)
            outcome.append(None)
        except BaseException as exc:  # reported below, in the test's thread
            outcome.append(exc)

    def busy_diag() -> str:
        links = [e for e in page.evaluate(JS_EVENTS_SINCE, mark) if e[0] in ("link", "render")]
        return (
            f"\nbusy cell: alive {busy.is_alive()}, outcome {outcome!r}; "
            f"view since the mark: {len(links)} link/render events, last {links[-5:]}; "
            f"status {page.evaluate(JS_STATUS)!r}\n{diag()}"
        )

    busy = threading.Thread(target=busy_cell, name="busy-cell")
    busy.start()
    try:
        # the kernel is in the cell (not still on its way there, nor refused)
        wait_until(lambda: started.exists() or outcome, 60, "the busy cell to start")
        assert not outcome, outcome
        # within 3 s of the last answer (up to 10 s for a kernel that is always slow: the
        # wait follows its usual round trip, and this machine may be loaded)
        status = wait_until(
            lambda: _waiting_for_the_kernel(page),
            60,
            "the view to say it waits for the kernel",
            on_timeout=busy_diag,
        )
        assert busy.is_alive(), "seen only after the cell was done"
        print("while busy:", status)
    finally:
        done.touch()
        busy.join(150)
    assert outcome == [None], outcome
    wait_until(lambda: page.evaluate(JS_STATUS) is None, 30, "the state to clear", on_timeout=diag)
    events = page.evaluate(JS_EVENTS_SINCE, mark)
    links = [(e[1], e[2]) for e in events if e[0] == "link"]
    assert [s for s, _ in links] == ["waiting", "live"], links
    (_, t_waiting), (_, t_live) = links
    live_at = next(i for i, e in enumerate(events) if e[0] == "link" and e[1] == "live")
    _streams_again(lab, mark + live_at, diag)
    events = page.evaluate(JS_EVENTS_SINCE, mark)
    after = events[live_at + 1 :]
    # while waiting, one probe frame at a time at most every PROBE_MS (2 s), not a queue
    during = [e for e in events[:live_at] if e[0] == "frame" and e[2] > t_waiting]
    assert len(during) <= (t_live - t_waiting) / 2000 + 1, (len(during), t_live - t_waiting)
    assert all(e[3] == 1 for e in during), during
    # after: no result of a frame captured before the kernel came back is drawn ...
    drawn = [e for e in after if e[0] == "render"]
    assert drawn
    assert all(t_capture >= t_live for _, _, t_capture in drawn), (t_live, drawn)
    # ... and no burst: the window starts afresh at two (the wait's long round trips did not
    # grow it) and is never exceeded
    sent = [e for e in after if e[0] == "frame"]
    print(f"waiting {(t_live - t_waiting) / 1000:.1f} s, {len(during)} probe frames meanwhile;")
    print(f"after: {len(sent)} frames sent, {len(drawn)} results drawn; windows {sent[:8]}")
    assert sent
    assert sent[0][4] == 2, sent
    assert all(in_flight <= window for *_, in_flight, window in sent), sent
    assert page.evaluate(JS_BANNER) is None
    assert not _page_errors(host, errors_at), diag()


def test_the_network_dropped_under_the_widget_shows_waiting_and_resumes(lab):
    host, page = lab.host, lab.host.page
    diag = lambda: host.diagnostics(30)  # noqa: E731
    lab.wait_frames(3)
    errors_at = len(host.console)
    mark = page.evaluate(JS_MARK)
    # Chromium offline: the kernel's WebSocket to the Jupyter server drops; the kernel lives
    # (offline until the state is seen, so a loaded machine's slow round trips cannot race it)
    host.context.set_offline(True)
    try:
        status = wait_until(
            lambda: _waiting_for_the_kernel(page),
            60,
            "the view to say it waits for the kernel",
            on_timeout=diag,
        )
        print("offline:", status)
    finally:
        host.context.set_offline(False)
    # JupyterLab reconnects the kernel by itself; the view resumes without a reload
    wait_until(lambda: page.evaluate(JS_STATUS) is None, 90, "the state to clear", on_timeout=diag)
    events = page.evaluate(JS_EVENTS_SINCE, mark)
    links = [e[1] for e in events if e[0] == "link"]
    assert links[:1] == ["waiting"], links
    assert links[-1:] == ["live"], links
    live_at = max(i for i, e in enumerate(events) if e[0] == "link" and e[1] == "live")
    _streams_again(lab, mark + live_at, diag)
    assert page.evaluate(JS_BANNER) is None
    assert page.evaluate(JS_LIVE_TRACKS) == 1
    assert lab.get("running") is True
    assert not _page_errors(host, errors_at), diag()


def test_a_kernel_restart_disconnects_the_old_view_and_the_cell_run_again_streams(lab):
    host, page = lab.host, lab.host.page
    diag = lambda: host.diagnostics(30)  # noqa: E731
    lab.wait_frames(3)
    assert page.evaluate(JS_LIVE_TRACKS) == 1
    errors_at = len(host.console)
    mark = page.evaluate(JS_MARK)

    host.restart_kernel()
    # the old view: a clear state instead of a frozen frame, and the camera released
    wait_until(lambda: page.evaluate(JS_BANNER) == "DISCONNECTED", 60, "the loss", on_timeout=diag)
    wait_until(lambda: page.evaluate(JS_LIVE_TRACKS) == 0, 30, "no live camera track")
    stage = page.evaluate(JS_STAGE)
    assert "Re-run the cell" in (stage["placeholder"] or ""), stage
    assert stage["canvas_hidden"], stage
    assert not stage["video_stream"], stage
    links = [e[1] for e in page.evaluate(JS_EVENTS_SINCE, mark) if e[0] == "link"]
    assert links[-1:] == ["lost"], links
    assert not _page_errors(host, errors_at), diag()

    # the probe's sockets reconnect to the restarted kernel (same connection file)
    lab.probe.wait_ready(120)
    assert lab.probe.eval("'w' in globals()") is False
    host.run_all_cells()
    lab.wait_frames(0, timeout=240)
    processed = lab.frames_processed()
    lab.wait_frames(processed + 3)
    stage = page.evaluate(JS_STAGE)
    assert stage["views"] == 1, stage
    assert stage["placeholder"] is None, stage
    assert page.evaluate(JS_BANNER) is None
    assert page.evaluate(JS_LIVE_TRACKS) == 1  # only the new view's camera
    assert not _page_errors(host, errors_at), diag()
