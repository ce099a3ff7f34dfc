"""Test doubles for the widget without a browser: ``CapturingWidget`` keeps every message it
sends in an ``Outbox`` instead of a comm (the ``make_widget`` fixture in conftest.py makes them)."""

from __future__ import annotations

import json
import threading

from segwidget import SegWidget

TIMEOUT = 60


class Outbox:
    """Every message the widget sends, JSON-checked; ``hold`` parks the worker in a result."""

    def __init__(self):
        self.messages: list[tuple[dict, list[bytes]]] = []
        self.cond = threading.Condition()
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def add(self, content, buffers):
        json.dumps(content)  # what the real comm does with it: must not raise
        buffers = [bytes(b) for b in buffers or []]
        if content["type"] == "result" and self.hold is not None:
            self.entered.set()
            assert self.hold.wait(TIMEOUT)
        with self.cond:
            self.messages.append((content, buffers))
            self.cond.notify_all()

    def of(self, kind):
        with self.cond:
            return [(c, b) for c, b in self.messages if c["type"] == kind]

    def wait(self, predicate, timeout=TIMEOUT):
        """The first message (content, buffers) for which ``predicate(content)`` holds."""

        def find():
            return next(((c, b) for c, b in self.messages if predicate(c)), None)

        with self.cond:
            assert self.cond.wait_for(lambda: find() is not None, timeout), (
                f"no such message; sent: {[c['type'] for c, _ in self.messages]}"
            )
            return find()


class CapturingWidget(SegWidget):
    def __init__(self, *args, **kwargs):
        self.outbox = Outbox()  # before __init__: it already sends `loading`
        super().__init__(*args, **kwargs)

    def send(self, content, buffers=None):
        self.outbox.add(content, buffers)
