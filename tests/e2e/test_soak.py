"""CI's 2-minute soaks (``segwidget bench --soak 120``): the widget in JupyterLab, and the
page with 4 clients. Memory and errors are asserted; the FPS ratio is printed, not asserted
(timing is the benchmark's, never a test's): docs/RELIABILITY.md has the long runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from segwidget.bench.e2e import requirements
from segwidget.bench.soak import MAX_GROWTH_MB, format_verdict

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

SECONDS = float(os.environ.get("SEGWIDGET_SOAK_SECONDS", "120"))


@pytest.mark.parametrize(("host", "clients"), [("lab", 1), ("page", 4)])
def test_a_short_soak_keeps_memory_flat_and_streams_without_errors(
    host, clients, tmp_path, metrics
):
    why = requirements([host])
    if why:
        pytest.skip(why)
    # a subprocess, as users run it (and Playwright's sync API wants a thread of its own)
    cmd = ["bench", "--soak", str(SECONDS), "--host", host, "--clients", str(clients)]
    cmd += ["--plot", str(tmp_path / "soak.png"), "--output", str(tmp_path / "soak.json")]
    proc = subprocess.run(
        [sys.executable, "-m", "segwidget.cli", *cmd],
        capture_output=True,
        text=True,
        timeout=SECONDS + 600,
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]  # 1: a criterion failed, see below
    result = json.loads((tmp_path / "soak.json").read_text())
    v = result["verdict"]
    metrics[f"soak {host} x{clients}"] = {k: v[k] for k in ("rss_growth_mb", "heap_growth_mb")} | {
        "fps_first": v["fps_first"],
        "fps_last": v["fps_last"],
    }
    print(format_verdict(v))
    assert v["errors"] == 0, [r["error_texts"] for r in result["samples"] if r["errors"]]
    assert v["rss_growth_mb"] is not None
    assert v["rss_growth_mb"] < MAX_GROWTH_MB
    assert v["heap_growth_mb"] is not None
    assert v["heap_growth_mb"] < MAX_GROWTH_MB
    last = result["samples"][-3:]
    assert all(r["fps"] > 0 for r in last)  # still streaming at the end
    assert (tmp_path / "soak.png").stat().st_size > 0


def test_a_soak_killed_with_sigterm_closes_the_browser_and_server_it_started(tmp_path):
    why = requirements(["page"])
    if why:
        pytest.skip(why)
    from segwidget.bench.harness.procstat import descendants
    from segwidget.bench.harness.util import wait_until

    proc = subprocess.Popen(
        [sys.executable, "-m", "segwidget.cli", "bench", "--soak", "600", "--host", "page"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for line in proc.stdout:  # the header row: the server and Chromium are up
            if line.startswith("t (s)"):
                break
        else:
            pytest.fail(f"the soak ended before it streamed (rc {proc.wait()})")
        started = descendants(proc.pid)
        assert len(started) >= 3  # the page server, Playwright's driver, Chromium
        proc.terminate()
        assert proc.wait(timeout=120) == 128 + 15
    finally:
        if proc.poll() is None:
            proc.kill()

    def running() -> list[int]:
        out = []
        for pid in started:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                out.append(pid)
        return out

    # Chromium's helpers exit once their browser is gone, a moment after it
    wait_until(lambda: not running(), 30, "the soak's processes to exit", interval=0.2)
