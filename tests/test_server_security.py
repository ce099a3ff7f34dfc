"""Unit tests of the server's building blocks: access checks, rate limiter, message models."""

from __future__ import annotations

import pytest

from segwidget.errors import ProtocolError
from segwidget.transports import security
from segwidget.transports.messages import (
    FrameMessage,
    InitMessage,
    UpdateVizMessage,
    parse_client_message,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert security.is_loopback(host) is loopback


def test_resolve_token():
    auto = security.resolve_token("auto", "127.0.0.1")
    assert len(auto) == 48
    assert auto != security.resolve_token("auto", "127.0.0.1")
    assert security.resolve_token("none", "127.0.0.1") is None
    assert security.resolve_token("none", "localhost") is None
    with pytest.raises(ValueError, match="loopback"):
        security.resolve_token("none", "0.0.0.0")
    with pytest.raises(ValueError, match="ngrok"):
        security.resolve_token("none", "127.0.0.1", tunnel=True)
    assert security.resolve_token("my-long-secret", "0.0.0.0") == "my-long-secret"
    with pytest.raises(ValueError, match="8 characters"):
        security.resolve_token("short", "0.0.0.0")


def test_token_matches():
    assert security.token_matches(None, None)
    assert security.token_matches("abcdefgh", "abcdefgh")
    assert not security.token_matches("abcdefgh", "abcdefgX")
    assert not security.token_matches("abcdefgh", "")
    assert not security.token_matches("abcdefgh", None)
    assert not security.token_matches("abcdefgh", "abcdefghi")
    assert not security.token_matches("abcdefgh", "ábcdefgh")  # non-ASCII does not raise


def test_token_from():
    assert security.token_from({"token": "q"}, {}) == "q"
    assert security.token_from({}, {"authorization": "token h"}) == "h"
    assert security.token_from({}, {"authorization": "Bearer b"}) == "b"
    assert security.token_from({}, {"authorization": "Basic x"}) is None
    assert security.token_from({}, {}) is None


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "127.0.0.1:8000", (), True),  # not a browser
        ("http://127.0.0.1:8000", "127.0.0.1:8000", (), True),
        ("https://abc.ngrok-free.app", "abc.ngrok-free.app", (), True),  # TLS proxy in front
        ("http://localhost:8000", "127.0.0.1:8000", (), False),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", (), False),
        ("http://evil.example", "127.0.0.1:8000", (), False),
        ("null", "127.0.0.1:8000", (), False),  # sandboxed iframes, file:// pages
        ("http://evil.example", None, (), False),
        ("https://app.example", "127.0.0.1:8000", ("https://app.example",), True),
        ("https://App.Example", "127.0.0.1:8000", ("https://app.example",), True),
        ("http://app.example", "127.0.0.1:8000", ("https://app.example",), False),
        ("http://anything.example", "127.0.0.1:8000", ("*",), True),
    ],
)
def test_origin_allowed(origin, host, allowed, ok):
    assert security.origin_allowed(origin, host, allowed) is ok


def test_normalize_origin():
    assert security.normalize_origin("HTTPS://App.Example:8443/") == "https://app.example:8443"
    assert security.normalize_origin("*") == "*"
    for bad in ("app.example", "ftp://app.example", "https://app.example/path"):
        with pytest.raises(ValueError, match="allow-origin"):
            security.normalize_origin(bad)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("localhost", True),
        ("[::1]:8000", True),
        ("evil.example:8000", False),
        ("127.0.0.1.evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_host_is_loopback(host, ok):
    assert security.host_is_loopback(host) is ok


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_rate_limiter_bucket_and_patience():
    clock = FakeClock()
    rl = security.RateLimiter(10, burst=10, patience_s=2.0, clock=clock)
    assert all(rl.allow() for _ in range(10))  # the burst
    assert not rl.allow()
    assert rl.should_warn()
    assert not rl.should_warn()  # at most one warning a second
    clock.t += 0.1
    assert rl.allow()  # one token back after 0.1 s at 10/s
    assert not rl.allow()
    assert not rl.exhausted
    # flooding for longer than the patience exhausts it
    for _ in range(40):
        clock.t += 0.05
        rl.allow()
        rl.allow()
        rl.allow()
    assert rl.exhausted
    assert rl.rejected > 0


def test_rate_limiter_forgives_after_a_quiet_second():
    clock = FakeClock()
    rl = security.RateLimiter(10, burst=10, patience_s=2.0, clock=clock)
    for _ in range(15):
        rl.allow()
    clock.t += 1.5  # quiet
    for _ in range(15):
        rl.allow()
    clock.t += 1.5
    for _ in range(15):
        rl.allow()
    assert not rl.exhausted  # excess in separate bursts, never 2 s in a row


def test_rate_limiter_off():
    rl = security.RateLimiter(0)
    assert all(rl.allow() for _ in range(10_000))


# ----------------------------------------------------------------------------- messages


def test_parse_spec_messages():
    init = parse_client_message(
        {
            "type": "init",
            "config": {"model_mode": "balanced", "resolution": {"width": 640, "height": 480}},
        }
    )
    assert isinstance(init, InitMessage)
    assert init.config.model_mode == "balanced"
    assert init.config.binary is False
    assert init.config.resolution.width == 640
    frame = parse_client_message({"type": "frame", "data": "abcd", "timestamp": 1698765432000})
    assert isinstance(frame, FrameMessage)
    assert frame.timestamp == 1698765432000
    viz = parse_client_message(
        {
            "type": "update_viz",
            "settings": {
                "overlay_opacity": 0.6,
                "visualization_mode": "filled",
                "class_filter": ["person", "car"],
                "colormap": "ade20k",
            },
        }
    )
    assert isinstance(viz, UpdateVizMessage)
    assert viz.settings.class_filter == ["person", "car"]
    # fields left out are not "set": they keep the session's values
    partial = parse_client_message({"type": "update_viz", "settings": {"overlay_opacity": 1}})
    assert partial.settings.model_fields_set == {"overlay_opacity"}
    # unknown extra fields are ignored
    assert (
        parse_client_message({"type": "init", "extra": 1, "config": {"x": 2}}).config.binary
        is False
    )


@pytest.mark.parametrize(
    ("msg", "code"),
    [
        ({"type": "nope"}, "UNKNOWN_TYPE"),
        ({"type": "frame", "seq": -1}, "BAD_MESSAGE"),
        ({"type": "frame", "seq": True}, "BAD_MESSAGE"),
        ({"type": "frame", "seq": 1.5}, "BAD_MESSAGE"),
        ({"type": "frame", "width": 0}, "BAD_MESSAGE"),
        ({"type": "frame", "feedback": {"latency_ms": "slow"}}, "BAD_MESSAGE"),
        ({"type": "frame", "feedback": [1]}, "BAD_MESSAGE"),
        ({"type": "init", "config": {"resolution": {"width": -1, "height": 5}}}, "BAD_MESSAGE"),
        ({"type": "init", "config": {"mask_encoding": "gif"}}, "BAD_MESSAGE"),
        ({"type": "init", "config": "fast"}, "BAD_MESSAGE"),
        ({"type": "change_mode"}, "BAD_MESSAGE"),
        ({"type": "update_viz", "settings": {"overlay_opacity": -0.1}}, "BAD_MESSAGE"),
        ({"type": "update_viz", "settings": {"class_filter": "person"}}, "BAD_MESSAGE"),
        ({"type": "update_viz", "settings": {"custom_colormap": [[1, 2]]}}, "BAD_MESSAGE"),
        ({"type": "update_viz", "settings": {"custom_colormap": [[1, 2, 256]]}}, "BAD_MESSAGE"),
    ],
)
def test_parse_rejects(msg, code):
    with pytest.raises(ProtocolError) as info:
        parse_client_message(msg)
    assert info.value.code == code
    assert str(info.value)
