"""What a replica does with frames, without Ray: prepare each, then run a batch by bucket.

:func:`prepare` decodes and resizes one request to the size a local engine would use and
picks its input-size bucket (:mod:`.buckets`); :func:`run_batch` letterboxes each bucket's
frames into one ``N x 3 x H x W`` tensor, runs it as one :meth:`Engine.infer_batch` call,
cuts the padding off each mask (and confidence) and builds the replies. The replies carry
only compact bytes (uint8, deflated), never arrays, through Ray's object store. Pure numpy,
so the replica's batching is tested without a cluster.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np

from ..engine import Engine
from ..errors import SegwidgetError
from ..postprocess import class_fractions
from ..preprocess import decode_jpeg, resize, validate_frame
from .buckets import Shape, bucket_shapes, choose_bucket, letterbox, unletterbox


class Prepared:
    """A frame decoded and resized, waiting for its batch; ``bucket``: the tensor it joins;
    ``confidence``: whether its reply carries the confidence (the session needs it)."""

    __slots__ = ("arrived", "bucket", "confidence", "hw", "offset", "pixels", "timings")

    def __init__(self, pixels: np.ndarray, hw: Shape, timings: dict, arrived: float):
        self.pixels, self.hw, self.timings, self.arrived = pixels, hw, timings, arrived
        self.offset = (0, 0)
        self.bucket = hw
        self.confidence = False


class Buckets:
    """The bucket shapes per model long side (adaptive quality asks for smaller sides)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._shapes: dict[int, list[Shape]] = {}

    def for_size(self, size: int) -> list[Shape]:
        if self.engine.profile.shipped:
            return []  # fixed-size shipped models: each frame keeps its own shape, no padding
        if size not in self._shapes:
            self._shapes[size] = bucket_shapes(size, self.engine.profile.multiple)
        return self._shapes[size]


def prepare(engine: Engine, buckets: Buckets, request: dict[str, Any], arrived: float) -> Prepared:
    """One request, ``{"jpeg": bytes}`` or ``{"pixels": bytes, "hw": [h, w]}`` at model size,
    with optional ``size`` (the model's long side) and ``confidence`` (bool)."""
    t0 = time.perf_counter()
    size = request.get("size") or engine.input_size
    if request.get("jpeg") is not None:
        rgb = decode_jpeg(request["jpeg"], engine.max_side)
        t1 = time.perf_counter()
        validate_frame(rgb, engine.max_side)
        hw = engine.model_hw(*rgb.shape[:2], size)
        rgb = resize(rgb, *hw, engine.profile.resize)
    else:
        h, w = (int(v) for v in request["hw"])
        data = request["pixels"]
        if len(data) != h * w * 3:
            raise SegwidgetError(f"raw frame of {len(data)} bytes is not {w}x{h}x3")
        rgb, hw, t1 = np.frombuffer(data, np.uint8).reshape(h, w, 3), (h, w), t0
    timings = {"decode": (t1 - t0) * 1000, "preprocess": (time.perf_counter() - t1) * 1000}
    prepared = Prepared(rgb, hw, timings, arrived)
    prepared.bucket = choose_bucket(hw, buckets.for_size(int(size)))
    prepared.confidence = bool(request.get("confidence"))
    return prepared


def run_batch(engine: Engine, items: list[Prepared]) -> tuple[list[dict[str, Any]], float]:
    """Run ``items`` (one Serve batch): one :meth:`Engine.infer_batch` call per bucket.

    Returns a reply per item, in order (``mask`` deflated, ``hw``, ``classes``, ``timings``,
    ``batch``, and ``confidence`` deflated where the item asked and the profile gives one),
    and the model time of the whole batch in milliseconds.
    """
    start = time.perf_counter()
    groups: dict[Shape, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(it.bucket, []).append(i)
    masks: list[np.ndarray] = [np.empty(0, np.uint8)] * len(items)
    softs: list[np.ndarray | None] = [None] * len(items)
    model_ms = 0.0
    for bucket, idx in groups.items():
        tensors = []
        for i in idx:
            padded, items[i].offset = letterbox(items[i].pixels, bucket)
            tensors.append(padded.transpose(2, 0, 1))
        t0 = time.perf_counter()
        out, soft = engine.infer_batch(np.ascontiguousarray(np.stack(tensors)))
        model_ms += (time.perf_counter() - t0) * 1000
        for k, i in enumerate(idx):
            masks[i] = unletterbox(out[k], items[i].hw, items[i].offset)
            if soft is not None and items[i].confidence:
                softs[i] = unletterbox(soft[k], items[i].hw, items[i].offset)
    replies = []
    for it, mask, soft in zip(items, masks, softs, strict=True):
        t0 = time.perf_counter()
        reply: dict[str, Any] = {
            "mask": zlib.compress(np.ascontiguousarray(mask).tobytes(), 1),
            "hw": list(mask.shape),
            "classes": class_fractions(mask, len(engine.labels)),
            "batch": len(items),
        }
        if soft is not None:  # the same deflate as the mask: a few KB, not an array
            reply["confidence"] = zlib.compress(np.ascontiguousarray(soft).tobytes(), 1)
        if engine.profile.shipped:
            reply["model"] = engine.model_for(*it.hw)
        reply["timings"] = {
            **it.timings,
            "batch_wait": (start - it.arrived) * 1000 - sum(it.timings.values()),
            "inference": model_ms,
            "postprocess": (time.perf_counter() - t0) * 1000,
        }
        replies.append(reply)
    return replies, model_ms
