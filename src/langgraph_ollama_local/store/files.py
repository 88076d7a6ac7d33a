"""Files only their owner may read: HITL_HOME (0700), the SQLite database and its WAL (0600),
key and token files (0600). Other local users get nothing to read approvals or tokens from."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` as 0700, or tighten it to 0700 if we own it."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty as 0600 if missing, or tighten it to 0600 if we own it."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    _tighten(path, FILE_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a secret to a file that is 0600 from its first byte (written aside, then renamed)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(aside, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(aside, path)


def private_sqlite(path: Path) -> Path:
    """Before SQLite opens `path`: a new parent directory is 0700, the file 0600 (SQLite gives
    its -wal and -shm files the database file's mode), and existing ones are tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            _tighten(side, FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
