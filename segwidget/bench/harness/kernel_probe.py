"""A second client on a notebook's own kernel, over ZeroMQ, beside the browser's connection.

Every wait here has a deadline of its own. jupyter_client's ``wait_for_ready`` does not: it
ends by draining IOPub until 0.2 s pass without a message, and a streaming widget publishes
a comm message for every frame, so that drain never ends while the widget runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

from .util import wait_until


class KernelError(RuntimeError):
    """The kernel raised, or did not answer in time."""


class KernelProbe:
    """Runs code in the notebook's kernel over ZeroMQ, beside the browser's connection.

    The kernel answers our requests on our own socket, and publishes their outputs with our
    request as parent, so the notebook shown in the browser never displays them. Widget
    trait changes made this way reach the browser like any other kernel-side change.
    """

    def __init__(self, connection_file: Path, timeout: float = 60):
        from jupyter_client import BlockingKernelClient

        self.connection_file = connection_file
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(connection_file))
        self.client.start_channels()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.client.stop_channels()
            raise

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the kernel answers on this probe's channels: at the start, and again
        after a kernel restart (the restarted kernel keeps the connection file, so ZeroMQ
        reconnects these sockets by itself; requests sent meanwhile may be lost)."""
        # IOPub subscriptions connect asynchronously (ZeroMQ's slow joiner): ask for
        # kernel_info until both its reply and its own idle status on IOPub arrive.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.client.kernel_info()
            step = min(deadline, time.monotonic() + 2)
            try:
                self._until_idle(msg_id, step)
                self._reply(msg_id, deadline)
                return
            except TimeoutError:
                continue
        raise KernelError(
            f"the kernel of {self.connection_file.name} did not answer kernel_info with its "
            f"reply and IOPub status within {timeout:g} s"
        )

    def _until_idle(
        self, msg_id: str, deadline: float, hook: Callable[[dict], None] | None = None
    ) -> None:
        """Read IOPub until our request's ``idle`` status; pass our request's messages to
        ``hook``. Other clients' messages (the widget's comm traffic) are skipped."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no idle status on IOPub")
            try:
                msg = self.client.get_iopub_msg(timeout=left)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if hook is not None:
                hook(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return

    def _reply(self, msg_id: str, deadline: float) -> dict:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply on the shell channel")
            try:
                msg = self.client.get_shell_msg(timeout=left)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def close(self) -> None:
        self.client.stop_channels()

    def execute(self, code: str, timeout: float = 60) -> str:
        """Run ``code``; return its stdout. Raises :class:`KernelError` with the traceback, or
        when the kernel has not finished within ``timeout`` seconds."""
        out: list[str] = []
        err: list[str] = []

        def hook(msg: dict) -> None:
            t = msg["header"]["msg_type"]
            c = msg["content"]
            if t == "stream":
                (out if c["name"] == "stdout" else err).append(c["text"])
            elif t == "error":
                err.append("\n".join(c.get("traceback", [])) or f"{c['ename']}: {c['evalue']}")

        deadline = time.monotonic() + timeout
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        try:
            self._until_idle(msg_id, deadline, hook)
            content = self._reply(msg_id, deadline)["content"]
        except TimeoutError as exc:
            raise KernelError(
                f"the kernel did not finish within {timeout:g} s ({exc})\ncode:\n{code}"
            ) from exc
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
