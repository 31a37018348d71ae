"""Filesystem primitives: atomic writes, file hashes, UTC timestamps and an exclusive lock.

Every module of the project writes files that readers must never see half-written (run.json, index
files, store pointers, checkpoints, reports) through :func:`atomic_write_bytes` and its text and JSON
variants, hashes files with :func:`file_sha256`, stamps times with :func:`utc_now`, and serializes
writers with :class:`FileLock`.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Optional

_CHUNK = 1 << 20


def fsync_dir(path: os.PathLike | str) -> None:
    """fsync a directory so that renames in it survive a power loss (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating missing parent folders.

    The bytes go to a uniquely named hidden temp file in the same folder, which is fsynced and then
    renamed over ``path`` (``os.replace``); the folder is fsynced last. A reader sees the old file or
    the new one, never a mix, and concurrent writers never share a temp file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: os.PathLike | str, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def canonical_json(data: Any) -> str:
    """The project's JSON file form: sorted keys, indent 2, UTF-8 characters kept, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_json(path: os.PathLike | str, data: Any) -> None:
    """Write ``data`` as :func:`canonical_json` atomically (parents created)."""
    atomic_write_text(path, canonical_json(data))


def file_sha256(path: os.PathLike | str) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second with a ``Z`` suffix (``2026-12-01T14:05:09Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class LockHeldError(RuntimeError):
    """Another live process holds the lock; ``holder`` is what it wrote into the lock file."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is locked by another process ({holder or 'unknown holder'})")
        self.path = path
        self.holder = holder


class FileLock:
    """An exclusive ``fcntl.flock`` lock on a file, as a context manager.

    The kernel releases the lock when the holder's descriptor closes, including when the process is
    killed (SIGKILL, OOM): a crashed holder never leaves a lock behind that blocks the next run, so the
    lock file itself may stay on disk. The holder's pid, purpose and start time are written into the
    file for the error message of whoever finds it taken. The filesystem must support ``flock`` (local
    disks do; on NFS use v4 with working locks).

    Args:
        path: the lock file (created with its parent folders when missing).
        purpose: a short word for the holder line (``nightly``, ``commit``, ...).
        blocking: wait for the lock instead of failing at once.

    Raises:
        LockHeldError: on enter, when ``blocking`` is False and another process holds the lock.
    """

    def __init__(self, path: os.PathLike | str, purpose: str = "update", blocking: bool = False) -> None:
        self.path = Path(path)
        self.purpose = purpose
        self.blocking = blocking
        self._fd: Optional[int] = None

    def __enter__(self) -> "FileLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise LockHeldError(self.path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} purpose={self.purpose} since={utc_now()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
