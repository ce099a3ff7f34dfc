"""The e2e harness's KernelProbe on a real kernel whose IOPub never goes quiet.

A streaming widget publishes a comm message per frame; a probe that waits for IOPub to fall
silent (jupyter_client's ``wait_for_ready``) hangs there. The probe must connect, run code
and time out on its own deadlines while another client's traffic floods IOPub.
"""

from __future__ import annotations

import pytest

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from jupyter_client import KernelManager

from segwidget.bench.harness import KernelError, KernelProbe

# A thread in the kernel that prints every 20 ms: IOPub never has a 0.2 s gap. To stderr:
# ipykernel may attribute a thread's output to whichever request is current (the probe's),
# and the probe reads its answers from stdout.
FLOOD = """
import sys, threading, time
_stop = threading.Event()
def _flood():
    while not _stop.is_set():
        print('tick', file=sys.stderr, flush=True)
        time.sleep(0.02)
threading.Thread(target=_flood, daemon=True).start()
"""


@pytest.fixture(scope="module")
def flooding_kernel(tmp_path_factory):
    km = KernelManager(kernel_name="python3")
    km.connection_file = str(tmp_path_factory.mktemp("kernel") / "kernel.json")
    km.start_kernel()
    owner = km.client()
    owner.start_channels()
    try:
        owner.wait_for_ready(timeout=60)
        owner.execute_interactive(FLOOD, timeout=30, output_hook=lambda msg: None)
        yield km
    finally:
        owner.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.fixture
def probe(flooding_kernel):
    probe = KernelProbe(flooding_kernel.connection_file, timeout=30)
    yield probe
    probe.close()


def test_probe_connects_and_evaluates_while_iopub_floods(probe):
    assert probe.eval("6 * 7") == 42
    assert probe.execute("print('only mine')") == "only mine\n"


def test_probe_reports_the_kernels_error(probe):
    with pytest.raises(KernelError, match="ZeroDivisionError"):
        probe.execute("1 / 0")
    assert probe.eval("'still alive'") == "still alive"


def test_probe_execute_times_out_on_its_deadline(probe):
    with pytest.raises(KernelError, match="did not finish within 1 s"):
        probe.execute("import time; time.sleep(3)", timeout=1)


def test_probe_answers_again_after_the_kernel_restarts(tmp_path):
    """A restarted kernel keeps its connection file: the same probe reaches the new kernel."""
    km = KernelManager(kernel_name="python3")
    km.connection_file = str(tmp_path / "kernel.json")
    km.start_kernel()
    try:
        probe = KernelProbe(km.connection_file, timeout=60)
        try:
            probe.execute("before_restart = 1")
            km.restart_kernel(now=True)
            probe.wait_ready(60)
            assert probe.eval("'before_restart' in globals()") is False
            assert probe.eval("6 * 7") == 42
        finally:
            probe.close()
    finally:
        km.shutdown_kernel(now=True)
