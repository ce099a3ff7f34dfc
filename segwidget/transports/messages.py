"""Pydantic models for every message a client may send to ``/ws`` (both protocols).

:func:`parse_client_message` turns a decoded JSON header into one of these models or raises a
:class:`~segwidget.errors.ProtocolError` with the documented code: ``UNKNOWN_TYPE`` for a
``type`` the server does not handle, ``BAD_MESSAGE`` for fields of the wrong type or out of
range. Names of profiles, viz modes, colormaps and classes are checked by the server against
what it serves (``UNKNOWN_MODE``), not here. Fields the models do not know are ignored, so
clients may add their own; types are strict (``"3"`` is not an integer, ``1`` is not a bool).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ProtocolError

MAX_SIDE_DECLARED = 16384

_CONFIG = ConfigDict(strict=True, extra="ignore", frozen=True)

Number = float | None
Color = Annotated[list[Annotated[int, Field(ge=0, le=255)]], Field(min_length=3, max_length=3)]


class _Message(BaseModel):
    model_config = _CONFIG


class Resolution(_Message):
    width: int = Field(gt=0, le=MAX_SIDE_DECLARED)
    height: int = Field(gt=0, le=MAX_SIDE_DECLARED)


class VizSettings(_Message):
    """The spec's ``update_viz`` settings; a field left out keeps its current value."""

    overlay_opacity: float | None = Field(None, ge=0.0, le=1.0)
    visualization_mode: str | None = Field(None, max_length=64)
    # None or [] shows every class (the spec's "null = show all classes")
    class_filter: list[str] | None = Field(None, max_length=1024)
    colormap: str | None = Field(None, max_length=64)
    # the colours of colormap "custom": [[r, g, b], ...], each 0..255
    custom_colormap: list[Color] | None = Field(None, min_length=1, max_length=1024)
    # replace's background: "#rrggbb" or [r, g, b] (colours only: no paths from a client)
    background: str | Color | None = Field(None, max_length=16)
    mirror: bool | None = None  # flip the composite left-right


class InitConfig(_Message):
    model_mode: str | None = Field(None, max_length=64)
    resolution: Resolution | None = None
    binary: bool = False
    mask_encoding: Literal["deflate", "raw", "png"] = "deflate"  # binary protocol's mask
    png: Literal["composite", "mask"] = "composite"  # spec protocol's segmentation PNG
    viz: VizSettings | None = None
    adapt: bool | None = None  # adaptive quality on / off (default on)
    latency_budget_ms: float | None = Field(None, ge=20, le=60_000)


class InitMessage(_Message):
    type: Literal["init"]
    config: InitConfig = InitConfig()


class FrameMessage(_Message):
    """A frame: base64 JPEG in ``data`` (spec) or JPEG / raw I420 in buffer 0 (binary)."""

    type: Literal["frame"]
    data: str | None = None
    timestamp: float | None = None  # spec: the client's capture time, echoed back
    seq: int | None = Field(None, ge=0, le=2**53)
    t_capture: float | None = None
    width: int | None = Field(None, gt=0, le=MAX_SIDE_DECLARED)
    height: int | None = Field(None, gt=0, le=MAX_SIDE_DECLARED)
    client: dict[str, Number] | None = Field(None, max_length=32)
    feedback: dict[str, Number] | None = Field(None, max_length=32)
    encoding: Literal["jpeg", "i420"] | None = None  # of buffer 0
    mask_encoding: Literal["deflate", "raw", "png"] | None = None  # for this frame's mask


class ChangeModeMessage(_Message):
    type: Literal["change_mode"]
    model_mode: str = Field(max_length=64)


class UpdateVizMessage(_Message):
    type: Literal["update_viz"]
    settings: VizSettings


class HelloMessage(_Message):
    type: Literal["hello"]


class OptionsMessage(_Message):
    """What the view wants with each result (binary protocol); a field left out is kept."""

    type: Literal["options"]
    confidence: bool | None = None  # the person probability as a second buffer


class ClientErrorMessage(_Message):
    type: Literal["client_error"]
    code: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=4096)
    recoverable: bool | None = None


ClientMessage = (
    InitMessage
    | FrameMessage
    | ChangeModeMessage
    | UpdateVizMessage
    | HelloMessage
    | OptionsMessage
    | ClientErrorMessage
)

MODELS: dict[str, type[_Message]] = {
    "init": InitMessage,
    "frame": FrameMessage,
    "change_mode": ChangeModeMessage,
    "update_viz": UpdateVizMessage,
    "hello": HelloMessage,
    "options": OptionsMessage,
    "client_error": ClientErrorMessage,
}


def parse_client_message(header: dict[str, Any]) -> ClientMessage:
    """Validate a decoded header (a dict with a string ``type``) into its model."""
    kind = header.get("type")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ProtocolError(
            "UNKNOWN_TYPE",
            f"unknown message type {kind!r}; expected one of {', '.join(MODELS)}",
        )
    try:
        return model.model_validate(header)  # type: ignore[return-value]
    except ValidationError as exc:
        raise ProtocolError("BAD_MESSAGE", f"invalid {kind!r} message: {_describe(exc)}") from None


def _describe(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
