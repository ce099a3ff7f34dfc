"""Files in segwidget's caches (ONNX exports, TensorRT engines): written atomically, checked
before reuse, and a full or read-only cache directory named in a clear error.

A writer puts its bytes in a temporary file in the same directory and ``os.replace``-s it
into place, so a reader sees the whole file or none. A sidecar (``<file>.sha256``: SHA-256,
size, modification time) lets a reader refuse a file that was cut short or altered by
anything else (a copy, a full disk before this scheme, a crash of an older version): such a
file is rebuilt, never reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import SegwidgetError

log = logging.getLogger(__name__)


class CacheWriteError(SegwidgetError, OSError):
    """The cache directory is full, read-only or otherwise unwritable."""

    code = "CACHE_WRITE_FAILED"
    recoverable = False


def unwritable(folder: Path, what: str, exc: OSError) -> CacheWriteError:
    """The error for ``exc`` raised while writing ``what`` into ``folder``."""
    return CacheWriteError(
        f"cannot write {what} to the cache directory {folder}: {exc.strerror or exc}. "
        "Free some space there or point SEGWIDGET_CACHE_DIR (or cache_dir=) at a writable "
        "directory."
    )


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(path: Path, digest: str | None = None) -> None:
    """Write ``path``'s sidecar: its SHA-256, size and modification time."""
    st = path.stat()
    fields = {"sha256": digest or file_digest(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    write_atomic(digest_path(path), json.dumps(fields).encode(), "a digest")


def is_intact(path: Path, adopt: Callable[[Path], bool] | None = None) -> bool:
    """Whether ``path`` is a complete cache file, by its sidecar: the size must match (a file
    cut short never passes), and the SHA-256 too unless the file is untouched since it was
    recorded (hashing a 200 MB export takes a second). A file without a sidecar (written
    before sidecars existed) is kept if ``adopt(path)`` accepts it, and then gets one."""
    try:
        st = path.stat()
    except OSError:
        return False
    try:
        raw = digest_path(path).read_text().strip()
    except FileNotFoundError:
        if adopt is None or not adopt(path):
            return False
        with contextlib.suppress(OSError):  # a read-only cache still serves its files
            record(path)
        return True
    except OSError:
        return False
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = {"sha256": raw}  # a bare digest
    if not isinstance(fields, dict):
        return False
    if fields.get("size", st.st_size) != st.st_size:
        return False
    if fields.get("mtime_ns") == st.st_mtime_ns:
        return True
    return file_digest(path) == fields.get("sha256")


def discard(path: Path) -> None:
    """Remove a cache file that failed its check, and its sidecar."""
    for p in (path, digest_path(path)):
        with contextlib.suppress(OSError):  # gone already, or a read-only cache
            p.unlink()


@contextlib.contextmanager
def atomic_path(path: Path, what: str) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer (e.g. ``torch.onnx.export``) to fill;
    moved into place with a digest sidecar on success, removed on failure. OSErrors from
    the directory or the write become :class:`CacheWriteError` naming the directory."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise unwritable(folder, what, exc) from exc
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
        record(path)
    except OSError as exc:
        discard(path)
        raise unwritable(folder, what, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: bytes, what: str) -> None:
    """Write ``data`` to ``path`` all at once (temporary file + ``os.replace``)."""
    folder = path.parent
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise unwritable(folder, what, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, path)
    except OSError as exc:
        raise unwritable(folder, what, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def write_with_digest(path: Path, data: bytes, what: str) -> None:
    """Write a cache file atomically, then its sidecar."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(path.parent, what, exc) from exc
    write_atomic(path, data, what)
    try:
        record(path, hashlib.sha256(data).hexdigest())
    except OSError as exc:
        raise unwritable(path.parent, what, exc) from exc
