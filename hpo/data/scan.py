"""Find the class folders of a dataset and the image files in them (no decoding here)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from hpo.errors import DataError
from hpo.fsutil import shown

__all__ = [
    "ANIMALS10_LABELS",
    "IMAGE_EXTENSIONS",
    "DatasetScan",
    "ScannedFile",
    "display_label",
    "find_root",
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
