"""segwidget.kernel_status: the kernel skips only the busy status of registered comms'
messages; idle and everything else are published as before."""

from __future__ import annotations

from segwidget.kernel_status import quiet_comm, unquiet_comm


class FakeKernel:
    """The two ipykernel methods the filter relies on, recording what is published."""

    def __init__(self):
        self.published: list[tuple[str, str, str]] = []
        self.parent: dict = {}

    def get_parent(self, channel: str = "shell") -> dict:
        return self.parent

    def _publish_status(self, status, channel, parent=None):
        msg = parent or self.get_parent(channel)
        self.published.append((status, channel, (msg.get("header") or {}).get("msg_type")))

    def handle(self, msg: dict, channel: str = "shell") -> list[tuple[str, str, str]]:
        """What ipykernel's dispatch does around a message: busy, handler, idle."""
        self.published.clear()
        self.parent = msg
        self._publish_status("busy", channel)
        self._publish_status("idle", channel)
        return list(self.published)


def comm_msg(comm_id: str) -> dict:
    return {"header": {"msg_type": "comm_msg"}, "content": {"comm_id": comm_id, "data": {}}}


EXECUTE = {"header": {"msg_type": "execute_request"}, "content": {"code": "1"}}


def test_registered_comm_messages_publish_idle_only():
    k = FakeKernel()
    assert quiet_comm("abc", k)
    assert k.handle(comm_msg("abc")) == [("idle", "shell", "comm_msg")]
    # other comms, execute requests and the control channel keep both statuses
    assert [s for s, *_ in k.handle(comm_msg("other"))] == ["busy", "idle"]
    assert [s for s, *_ in k.handle(EXECUTE)] == ["busy", "idle"]
    assert [s for s, *_ in k.handle(comm_msg("abc"), channel="control")] == ["busy", "idle"]
    # an explicit parent is looked at, not the channel's current one
    k.published.clear()
    k._publish_status("busy", "shell", parent=comm_msg("abc"))
    assert k.published == []


def test_unquiet_and_idempotence():
    k = FakeKernel()
    original = k._publish_status
    assert quiet_comm("a", k)
    wrapped = k._publish_status
    assert wrapped is not original
    assert quiet_comm("b", k)
    assert k._publish_status is wrapped  # one wrapper per kernel, whatever the comms
    unquiet_comm("a", k)
    assert [s for s, *_ in k.handle(comm_msg("a"))] == ["busy", "idle"]
    assert [s for s, *_ in k.handle(comm_msg("b"))] == ["idle"]


def test_without_an_ipykernel_it_does_nothing():
    assert quiet_comm("a", object()) is False
    unquiet_comm("a", object())  # no error
    # in this test process there is no kernel at all
    assert quiet_comm("a") is False


def test_a_broken_parent_never_breaks_publishing():
    k = FakeKernel()
    quiet_comm("a", k)
    k.parent = {"header": None, "content": "not a dict"}
    k.published.clear()
    k._publish_status("busy", "shell")
    assert k.published == [("busy", "shell", None)]
    k.get_parent = None  # type: ignore[assignment]  # even a kernel that lost the method
    k.published.clear()
    k._publish_status("idle", "shell", parent=comm_msg("x"))
    assert k.published == [("idle", "shell", "comm_msg")]
