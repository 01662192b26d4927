"""Find the class folders of a dataset and the image files in them (no decoding here)."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from hpo.errors import DataError, DecodeError
from hpo.fsutil import shown

__all__ = [
    "ANIMALS10_LABELS",
    "IMAGE_EXTENSIONS",
    "MAX_FILE_BYTES",
    "DatasetScan",
    "ScannedFile",
    "display_label",
    "file_problem",
    "find_root",
    "open_image",
    "os_reason",
    "scan_dataset",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"})

#: Animals-10 ships Italian folder names; these are the English display labels.
ANIMALS10_LABELS = {
    "cane": "dog",
    "cavallo": "horse",
    "elefante": "elephant",
    "farfalla": "butterfly",
    "gallina": "chicken",
    "gatto": "cat",
    "mucca": "cow",
    "pecora": "sheep",
    "ragno": "spider",
    "scoiattolo": "squirrel",
}

#: No image file bigger than this is read: 4 bytes (RGBA) for each of the most pixels Pillow
#: decodes (twice ``Image.MAX_IMAGE_PIXELS``; more is a decompression bomb), uncompressed
#: (about 716 MB). Bigger is no image hpo could use, and reading it would only exhaust memory.
MAX_FILE_BYTES = 4 * 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)

_SYSTEM_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx", "$recycle.bin"})


@dataclass(frozen=True)
class ScannedFile:
    path: Path  # absolute
    rel: str  # posix path relative to the dataset root, e.g. "cane/OIP-1.jpeg"
    class_name: str


@dataclass(frozen=True)
class DatasetScan:
    root: Path
    classes: tuple[str, ...]
    files: tuple[ScannedFile, ...]
    ignored: int  # hidden/system/non-image files
    unreadable: tuple[tuple[str, str], ...] = ()  # (relative folder, reason): folders that cannot be listed


def os_reason(exc: OSError, path: Path) -> str:
    """Why ``path`` cannot be read, in words: a broken or looping symbolic link, or the OS error."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (target {shown(os.readlink(path))} missing)"
    return f"cannot read file ({exc.strerror or exc})"


def file_problem(st: os.stat_result) -> str | None:
    """Why a file with this ``stat`` is not read as an image (a FIFO, a device, a folder, over
    `MAX_FILE_BYTES`), or None: reading a FIFO blocks for ever, ``/dev/zero`` never ends."""
    mode = st.st_mode
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "a folder" if stat.S_ISDIR(mode) else "special")
        return f"not a regular file ({kind})"
    if st.st_size > MAX_FILE_BYTES:
        return f"too large ({st.st_size:,} bytes; no image over {MAX_FILE_BYTES:,} bytes is read)"
    return None


def open_image(path: Path) -> BinaryIO:
    """``path`` opened for reading once it is sure to be a regular file of a usable size, or a
    `DecodeError` with the reason. Non-blocking open (a FIFO without writer does not block it)
    and checked after opening (``fstat``: no race with a file swapped in after a check)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DecodeError(os_reason(exc, path)) from None
    fh = os.fdopen(fd, "rb")
    try:
        problem = file_problem(os.fstat(fd))
    except OSError as exc:
        problem = os_reason(exc, path)
    if problem:
        fh.close()
        raise DecodeError(problem)
    return fh


def display_label(class_name: str) -> str:
    """English label for an Animals-10 folder; any other folder name is its own label."""
    return ANIMALS10_LABELS.get(class_name, class_name)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in _SYSTEM_NAMES


def is_image_name(name: str) -> bool:
    return not _is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def find_root(src: Path) -> Path:
    """The folder whose sub-folders are the classes; detects Kaggle's ``raw-img/`` layout."""
    if not src.exists():
        link = " (a broken or looping symbolic link)" if src.is_symlink() else ""
        raise DataError(f"dataset folder not found: {shown(src)}{link} — pass the folder with one sub-folder per class")
    if not src.is_dir():
        raise DataError(f"not a folder: {shown(src)} — pass the folder with one sub-folder per class")
    kaggle = src / "raw-img"
    return kaggle if kaggle.is_dir() else src


def scan_dataset(src: Path) -> DatasetScan:
    """List class folders (sorted) and their image files (recursively, sorted)."""
    root = find_root(src).resolve()
    classes: list[str] = []
    files: list[ScannedFile] = []
    unreadable: list[tuple[str, str]] = []
    ignored = 0
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(
            f"cannot list the dataset folder {shown(root)} ({exc.strerror}) — check its permissions"
        ) from None

    def unlisted(exc: OSError) -> None:
        where = Path(exc.filename or root)
        unreadable.append((where.relative_to(root).as_posix(), f"cannot list folder ({exc.strerror or exc})"))

    for entry in entries:
        if _is_hidden(entry.name):
            ignored += entry.is_file()
            continue
        if not entry.is_dir():
            ignored += 1
            continue
        classes.append(entry.name)
        for dirpath, dirnames, filenames in os.walk(entry.path, onerror=unlisted):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            for name in sorted(filenames):
                if not is_image_name(name):
                    ignored += 1
                    continue
                path = Path(dirpath, name)
                files.append(ScannedFile(path, path.relative_to(root).as_posix(), entry.name))
    if not classes:
        raise DataError(f"no class folders in {root} — expected {root}/<class>/<image files>")
    return DatasetScan(root, tuple(classes), tuple(files), ignored, tuple(unreadable))
