"""Small file helpers: atomic writes so a crash never leaves a half-written file behind, and
`shown`: how hpo prints a name it did not choose (a file, a folder, a class label), and a
full disk said in one line (`DiskFull`) instead of a traceback or a SIGBUS.

A file name may hold a newline, which would forge a line of output (``hpo: error: ...``), or
an ANSI escape, which a terminal obeys. `shown` prints such a name as Python's ``repr`` does
(quoted, each control character escaped: ``'x\\n\\x1b[2J.jpg'``) and any other name as it is."""

from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import filelock

from hpo.errors import DiskFull

__all__ = [
    "CHECKSUMS_FILE",
    "CRASH_ENV",
    "allocate",
    "checksum_problem",
    "crash_point",
    "disk_full",
    "file_lock",
    "is_disk_full",
    "one_line",
    "read_json",
    "recover_dir",
    "replace_dir",
    "sha256_file",
    "sha256_stream",
    "shown",
    "size_mb",
    "temp_sibling",
    "write_checksums",
    "write_json",
    "write_text",
]


def shown(name: str | os.PathLike[str]) -> str:
    """``name`` as it is when every character is printable, else its ``repr``: one line, no
    control character, and unambiguous (a backslash in the name is doubled)."""
    text = os.fspath(name)
    return text if text.isprintable() else repr(text)


def one_line(text: str) -> str:
    """``text`` (a message that may quote names) on one line: line breaks become spaces, other
    control characters their escapes (``\\x1b``), the rest unchanged."""
    text = " ".join(text.splitlines())
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` or an error behind it is a full disk or quota: an `OSError` (ENOSPC,
    EDQUOT), or a library's error that only carries the OS's words (TensorFlow's file writers)."""
    words = tuple(os.strerror(code) for code in _NO_SPACE)
    link: BaseException | None = exc
    for _ in range(32):  # a chain of causes, not a cycle
        if link is None:
            return False
        if (isinstance(link, OSError) and link.errno in _NO_SPACE) or any(w in str(link) for w in words):
            return True
        link = link.__cause__ or link.__context__
    return False


def _free_bytes(path: Path) -> int | None:
    for folder in (path, *path.parents):
        try:
            st = os.statvfs(folder)
        except (OSError, AttributeError):  # not there (yet), or no statvfs (Windows)
            continue
        return st.f_bavail * st.f_frsize
    return None


def disk_full(path: Path, need: int | None = None, what: str = "") -> DiskFull:
    """The one-line `DiskFull` for a write to ``path`` that needed ``need`` bytes (if known)."""
    free = _free_bytes(path)
    sizes = [f"needs {need:,} bytes"] if need is not None else []
    sizes += [f"{free:,} bytes free"] if free is not None else []
    detail = f" ({what}{'; ' if what and sizes else ''}{', '.join(sizes)})" if what or sizes else ""
    return DiskFull(
        f"disk full: {shown(path)}{detail} — free some space on that disk (or write elsewhere) and run it again"
    )


def allocate(fd: int, start: int, end: int) -> None:
    """Reserve bytes ``start..end`` of ``fd``'s file on disk now, so that a full disk is an
    ENOSPC `OSError` here, not a SIGBUS at a later write through a memory map of it (a mapped
    sparse file gets its blocks only when a page is first written)."""
    if hasattr(os, "posix_fallocate") and end > start:
        try:
            os.posix_fallocate(fd, start, end - start)
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
    if not hasattr(os, "pwrite"):  # Windows: a mapping extends the file itself, with its own error
        return
    zeros = bytes(1 << 20)
    for pos in range(start, end, len(zeros)):  # no fallocate on this file system: write the holes
        os.pwrite(fd, zeros[: min(len(zeros), end - pos)], pos)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename); a
    full disk is a `DiskFull` and leaves the previous ``path`` as it was.

    A file name that is not UTF-8 (Python holds its bytes as lone surrogates) is written as
    ``\\udcXX``: in JSON, the escape that reads back as the same name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full(path, len(text.encode("utf-8", "backslashreplace"))) from None
        raise


def write_json(path: Path, obj: Any) -> None:
    """Deterministic JSON (sorted keys, fixed indent, trailing newline), written atomically."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


#: Test hook: ``HPO_TEST_CRASH_AT=<step>`` makes `crash_point(<step>)` SIGKILL its own process.
CRASH_ENV = "HPO_TEST_CRASH_AT"


def crash_point(step: str) -> None:
    """Die here, as a power cut or the OOM killer would, when ``$HPO_TEST_CRASH_AT`` is ``step``.

    For the fault tests: a real process killed at a real write step, no mock of the writer."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def temp_sibling(dest: Path) -> Path:
    """``.NAME.tmp-<pid>`` beside ``dest``: where a new version of the folder is built."""
    return dest.with_name(f".{dest.name}.tmp-{os.getpid()}")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the OS or the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # glibc < 2.28, musl
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def replace_dir(new: Path, dest: Path) -> None:
    """Put the folder ``new`` (a sibling, e.g. `temp_sibling`) at ``dest``; a previous ``dest``
    is removed only after the swap, so a crash leaves the old or the new folder at ``dest``.

    On Linux the swap is one atomic ``renameat2``; elsewhere it is two renames, and a crash
    between them leaves the old folder at ``.NAME.old-<pid>``, which `recover_dir` restores."""
    if not dest.exists():
        new.rename(dest)
        return
    if _exchange(new, dest):  # ``new`` now holds the previous folder
        crash_point("export-swapped")
        shutil.rmtree(new)
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    dest.rename(old)
    crash_point("export-half-swapped")
    new.rename(dest)
    shutil.rmtree(old)


def recover_dir(dest: Path) -> list[Path]:
    """Undo what an interrupted `replace_dir` or build left beside ``dest``: restore the old
    folder if the crash fell between two renames, delete ``.NAME.tmp-*`` and ``.NAME.old-*``.

    Call it only while holding the lock that guards ``dest``; returns the paths removed."""
    name = glob.escape(dest.name)
    olds = sorted(dest.parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime_ns)
    if olds and not dest.exists() and not dest.is_symlink():
        olds.pop().rename(dest)
    stale = olds + sorted(dest.parent.glob(f".{name}.tmp-*"))
    for path in stale:
        _remove(path)
    return stale


def sha256_stream(fh: BinaryIO) -> str:
    """Hex SHA-256 of what is left to read in ``fh``."""
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return sha256_stream(fh)


#: ``sha256sum -c`` format: one ``<hex>  <relative path>`` line per file of a folder
CHECKSUMS_FILE = "SHA256SUMS"


def write_checksums(folder: Path) -> None:
    """``folder/SHA256SUMS`` listing every file under ``folder`` (checkable with ``sha256sum -c``)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS_FILE)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    write_text(folder / CHECKSUMS_FILE, "".join(lines))


def checksum_problem(folder: Path, wanted: Callable[[str], bool]) -> str | None:
    """The first file named in ``folder/SHA256SUMS`` (those ``wanted`` by relative path) that is
    missing or differs, in words; None when they all match or there is no SHA256SUMS."""
    try:
        lines = (folder / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return f"{CHECKSUMS_FILE} unreadable ({exc})"
    for line in lines:
        digest, _, rel = line.partition("  ")
        if not rel or not wanted(rel):
            continue
        try:
            if sha256_file(folder / rel) != digest:
                return f"{rel} differs from its checksum in {CHECKSUMS_FILE} (truncated or changed)"
        except FileNotFoundError:
            return f"{rel} is missing"
        except OSError as exc:
            return f"{rel} listed in {CHECKSUMS_FILE} cannot be read ({exc.strerror or exc})"
    return None
