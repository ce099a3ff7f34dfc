"""No busy/idle flicker of the kernel status for each frame a widget receives.

ipykernel publishes ``status: busy`` before and ``status: idle`` after every shell message,
including each comm message that carries a webcam frame: 20-30 times a second while a
``SegWidget`` streams. JupyterLab turns every busy/idle pair into UI work (the kernel status
and execution indicators re-render, the tab's favicon is swapped), which on this project's
2-core test machine took about a third of Chromium's CPU and about a quarter of the frame
rate (``docs/PERFORMANCE.md``), and makes the kernel indicator flicker.

For the comm messages of registered comms, the kernel here skips the ``busy`` status only.
``idle`` is still published after each one, so clients that wait for it behave as before
(JupyterLab completes each sent message's future on it; without it they would pile up), and
the kernel's status, idle before and after such a message, simply does not change. Execute
requests and every other message keep both statuses.

Nothing happens outside an ipykernel-like kernel (no ``_publish_status`` / ``get_parent``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_ATTR = "_segwidget_quiet_comms"
_lock = threading.Lock()


def current_kernel() -> Any | None:
    """The kernel this code runs in (IPython's ``get_ipython().kernel``), or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def _is_quiet(kernel: Any, ids: set[str], channel: str, parent: Any) -> bool:
    if channel != "shell" or not ids:
        return False
    msg = parent if parent is not None else kernel.get_parent(channel)
    if not isinstance(msg, dict):
        return False
    header = msg.get("header") or {}
    content = msg.get("content")
    return (
        header.get("msg_type") == "comm_msg"
        and isinstance(content, dict)
        and content.get("comm_id") in ids
    )


def quiet_comm(comm_id: str, kernel: Any | None = None) -> bool:
    """Skip the ``busy`` status for ``comm_id``'s messages. True when it is in effect."""
    kernel = kernel if kernel is not None else current_kernel()
    original = getattr(kernel, "_publish_status", None)
    if kernel is None or original is None or not callable(getattr(kernel, "get_parent", None)):
        return False
    with _lock:
        ids: set[str] | None = getattr(kernel, _ATTR, None)
        if ids is None:
            ids = set()

            def _publish_status(status: str, channel: str, parent: Any = None, *a, **kw) -> Any:
                try:
                    if status == "busy" and _is_quiet(kernel, ids, channel, parent):
                        return None
                except Exception:  # never break the kernel's messaging
                    log.debug("segwidget: status filter failed", exc_info=True)
                return original(status, channel, parent, *a, **kw)

            kernel._publish_status = _publish_status
            setattr(kernel, _ATTR, ids)
        ids.add(comm_id)
    return True


def unquiet_comm(comm_id: str, kernel: Any | None = None) -> None:
    """Publish both statuses for ``comm_id``'s messages again."""
    kernel = kernel if kernel is not None else current_kernel()
    ids = getattr(kernel, _ATTR, None)
    if ids is not None:
        with _lock:
            ids.discard(comm_id)
