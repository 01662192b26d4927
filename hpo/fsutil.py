"""Small file helpers: atomic writes so a crash never leaves a half-written file behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock

__all__ = ["file_lock", "read_json", "size_mb", "write_json", "write_text"]


def size_mb(path: Path) -> float:
    """Size of a file, or of every file under a folder, in MB (10^6 bytes)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


@contextmanager
def file_lock(path: Path, *, timeout: float = -1) -> Iterator[None]:
    """Exclusive lock on ``path`` (created if needed) for the ``with`` block.

    ``timeout`` seconds to wait (-1: forever, 0: don't wait); raises `filelock.Timeout` when
    another process still holds it. It is an OS lock (``flock`` on POSIX, ``msvcrt`` on
    Windows), released when the holder dies, even on SIGKILL, so a crash never leaves a
    stale lock."""
    with filelock.FileLock(path, timeout=timeout, thread_local=False):
        yield


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Deterministic JSON (sorted keys, fixed indent, trailing newline), written atomically."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)
