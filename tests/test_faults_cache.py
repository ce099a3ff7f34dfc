"""Cache faults: a full or read-only cache directory during an ONNX export gives a clear error
naming it and leaves nothing behind; a cut-short cached file is rebuilt, never reused.

Tests run as root here, where chmod does not stop writes: the write itself is made to fail
with ENOSPC / EROFS instead."""

from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pytest
import torch

from segwidget import cache_files, export
from segwidget.cache_files import CacheWriteError, digest_path, is_intact, write_with_digest
from segwidget.hardware import BackendChoice
from segwidget.profiles import get_profile
from segwidget.scheduler import Scheduler
from segwidget.stream import Session

CPU = BackendChoice("onnxruntime", "cpu", "fp32", "test")
PROFILE = get_profile("fast")


class Threshold(torch.nn.Module):
    """A network small enough to export in a blink: class 1 where red is over 127."""

    def forward(self, x):
        return (x[:, 0] > 127).to(torch.uint8)


@pytest.fixture
def exports(monkeypatch):
    """Counts real ``torch.onnx.export`` calls; ``fail_after`` makes the next one write part
    of a file and then fail like a full disk."""
    real = torch.onnx.export
    state = {"calls": 0, "fail": None}

    def counting(model, args, f, **kwargs):
        state["calls"] += 1
        if state["fail"] is not None:
            with open(f, "wb") as out:
                out.write(b"\x08\x07partial")
            raise state["fail"]
        return real(model, args, f, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", counting)
    return state


def run_export(folder):
    return export.export_onnx(Threshold(), PROFILE, "threshold", CPU, (32, 32), folder)


def run_onnx(path):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 32, 32), np.uint8)
    x[:, 0, :, :16] = 200
    return session.run(None, {"image": x})[0]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    ("code", "text"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_a_failed_export_names_the_directory_and_leaves_nothing(tmp_path, exports, code, text):
    exports["fail"] = OSError(code, os.strerror(code))
    with pytest.raises(CacheWriteError) as info:
        run_export(tmp_path)
    assert info.value.code == "CACHE_WRITE_FAILED"
    assert info.value.recoverable is False
    assert str(tmp_path) in str(info.value)
    assert text in str(info.value)
    assert "SEGWIDGET_CACHE_DIR" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no half-written export, no temp file

    exports["fail"] = None  # the disk has room again: a fresh, whole export
    path = run_export(tmp_path)
    assert run_onnx(path)[0, 0, :3].tolist() == [1, 1, 1]


def test_an_unwritable_cache_directory_is_named(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(cache_files.tempfile, "mkstemp", read_only)
    with pytest.raises(CacheWriteError, match=str(tmp_path)):
        run_export(tmp_path)


def test_a_cut_short_export_is_rebuilt_not_reused(tmp_path, exports):
    path = run_export(tmp_path)
    assert exports["calls"] == 1
    assert run_export(tmp_path) == path
    assert exports["calls"] == 1  # intact: reused
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # e.g. a copy that ran out of space
    assert run_export(tmp_path) == path
    assert exports["calls"] == 2
    assert path.read_bytes() == whole
    assert run_onnx(path).shape == (1, 32, 32)
    assert leftovers(tmp_path) == []


def test_an_export_from_before_digests_is_adopted_if_it_loads(tmp_path, exports):
    path = run_export(tmp_path)
    digest_path(path).unlink()
    assert run_export(tmp_path) == path
    assert exports["calls"] == 1  # it parses: kept, and given a digest
    assert digest_path(path).is_file()
    digest_path(path).unlink()
    path.write_bytes(b"\x08garbage")
    run_export(tmp_path)
    assert exports["calls"] == 2  # it does not: exported again


def test_engine_files_with_digests(tmp_path):
    """The TensorRT engine cache's writer (no GPU needed for the file handling)."""
    path = tmp_path / "fast-fp16-abc.engine"
    write_with_digest(path, b"engine bytes" * 100, "the TensorRT engine")
    assert is_intact(path)
    path.write_bytes(b"engine bytes")
    assert not is_intact(path)
    assert not is_intact(tmp_path / "missing.engine")
    assert leftovers(tmp_path) == []


def test_a_session_reports_the_cache_error_and_keeps_its_engine(tmp_path, monkeypatch):
    """Through a real Engine load: the error reaches the client with its code."""
    monkeypatch.setattr(
        export, "export_onnx", lambda *a, **k: (_ for _ in ()).throw(CacheWriteError("disk"))
    )
    errors, done = [], threading.Event()

    class Sink:
        def on_error(self, session, frame, error):
            errors.append(error)
            done.set()

        def on_loading(self, *args):
            pass

        on_result = on_stats = on_ready = on_loading

    scheduler = Scheduler(inference_timeout_s=0)
    try:
        kwargs = {"weights": "random", "backend": "onnxruntime", "cache_dir": str(tmp_path)}
        session = Session(Sink(), scheduler, "fast", kwargs)
        session.start().join(120)
        assert done.wait(5)
        assert errors[0].code == "CACHE_WRITE_FAILED"
        assert session.engine is None
    finally:
        scheduler.stop()
