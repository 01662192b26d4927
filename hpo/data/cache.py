"""The prepared-data cache: content hashes of source files and decoded uint8 image rows.

Files in the output folder:

- ``images.npy`` — ``uint8[N, S, S, 3]``, row ``i`` is ``manifest.json``'s ``items[i]``;
  opened memory-mapped, so no epoch decodes a JPEG and nothing needs to fit in RAM.
- ``manifest.json`` — written last: it commits a preparation. Its ``images_sha256`` is the
  content hash of the ``images.npy`` it was written for, checked on every load, so a crash
  between the two files (new images, old manifest) is detected, never read as mismatched rows.
- ``index.json`` — per source file ``[size, mtime_ns, sha256]`` so an unchanged file is not
  read again, and the reasons of files that failed to decode (by content hash).
- ``report.json`` (`hpo.data.prepare`), ``.prepare-lock``, and ``.hpo-prepared``: written before
  any other file, it marks the folder as hpo's (`hpo.records.owned`). A folder holding anything else,
  or these names without the marker, is a user's: `strangers` names what `prepare` would replace.

A re-run reuses every row whose content hash is already in a verified ``images.npy`` at the
same size and decodes only new files; with nothing new it rewrites nothing. An unverified
cache (interrupted, edited, or a format-1 manifest without the hash) is rebuilt from scratch.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hpo.data.decode import RESIZE_MODE
from hpo.data.scan import ScannedFile, file_problem, open_image, os_reason
from hpo.errors import DataError, DecodeError
from hpo.fsutil import (
    allocate,
    crash_point,
    disk_full,
    is_disk_full,
    read_json,
    sha256_file,
    sha256_stream,
    write_json,
)
from hpo.records.owned import PREPARED_MARKER, is_prepared

__all__ = [
    "IMAGES_FILE",
    "INDEX_FILE",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "REPORT_FILE",
    "SCRATCH_FILES",
    "PreparedCache",
    "mark_prepared",
    "npy_bytes",
    "rows_file",
    "scratch_rows",
    "sha256_file",
    "strangers",
    "verified_images",
]

IMAGES_FILE = "images.npy"
INDEX_FILE = "index.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.json"
LOCK_FILE = ".prepare-lock"
#: Work files of an unfinished `prepare`; a later one (holding the folder's lock) deletes them.
SCRATCH_FILES = (".decoded.tmp.npy", f".{IMAGES_FILE}.tmp")
_JSON_FILES = (MANIFEST_FILE, REPORT_FILE, INDEX_FILE, PREPARED_MARKER)
#: every name `prepare` writes into its folder (and ``.NAME.<random>``, `write_json`'s temporary files)
PREPARED_FILES = frozenset({IMAGES_FILE, LOCK_FILE, *_JSON_FILES, *SCRATCH_FILES})


def _written_by_an_earlier_hpo(out: Path) -> bool:
    """A folder prepared before the marker: its manifest is hpo's (classes, items, image size)."""
    manifest = _load_json(out / MANIFEST_FILE)
    return all(isinstance(manifest.get(k), t) for k, t in (("classes", list), ("items", list), ("image_size", int)))


def strangers(out: Path) -> list[str]:
    """Names in ``out`` that `prepare` did not write (it would replace or leave them among its
    files): [] for a missing or empty folder, or hpo's prepared data."""
    if not out.is_dir():
        return []
    marked = is_prepared(out) or _written_by_an_earlier_hpo(out)
    temporary = tuple(f".{name}." for name in _JSON_FILES)

    def ours(name: str) -> bool:
        path = out / name
        if path.is_symlink() or not path.is_file():
            return False
        return name == LOCK_FILE or name.startswith(temporary) or (marked and name in PREPARED_FILES)

    return [name for name in sorted(os.listdir(out)) if not ours(name)]


def mark_prepared(out: Path) -> None:
    """Write ``out/.hpo-prepared`` (before anything else is written there) if it is missing."""
    if not is_prepared(out):
        write_json(out / PREPARED_MARKER, {"written_by": "hpo data prepare", "files": sorted(PREPARED_FILES)})


def rows_file(path: Path, rows: int, size: int) -> np.memmap:
    """A new ``.npy`` file of ``uint8[rows, size, size, 3]``, memory-mapped for writing, whose
    every byte is on disk before the first row is written: a full disk is a `DiskFull` naming
    ``path`` and the bytes it needs (the file is removed), never a SIGBUS halfway."""
    shape = (rows, size, size, 3)
    arr: np.memmap | None = None
    try:
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
        with path.open("r+b") as fh:
            allocate(fh.fileno(), arr.offset, arr.offset + arr.nbytes)
    except OSError as exc:
        arr = None  # unmapped, so that removing the file gives its pages back
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full(path, npy_bytes(shape)) from None
        raise
    return arr


def npy_bytes(shape: tuple[int, ...]) -> int:
    """Size of the ``.npy`` file of a uint8 array of ``shape``: its header and its bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return len(header.getvalue()) + int(np.prod(shape))


@contextmanager
def scratch_rows(path: Path, rows: int, size: int) -> Iterator[np.ndarray]:
    """A temporary on-disk ``uint8[rows, size, size, 3]`` array (`rows_file`), deleted on exit."""
    arr = rows_file(path, max(rows, 1), size)
    try:
        yield arr
    finally:
        del arr
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    """`sha256_file` of an image file, opened as `open_image` opens it (never a FIFO or a device)."""
    with open_image(path) as fh:
        return sha256_stream(fh)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class PreparedCache:
    """What an earlier `prepare` into the same folder left behind, and how to update it."""

    def __init__(self, out: Path, image_size: int) -> None:
        self.out = out
        self.image_size = image_size
        index = _load_json(out / INDEX_FILE)
        self._stat: dict[str, list[Any]] = index.get("files", {})
        self.broken: dict[str, str] = index.get("broken", {})
        self._old_order: list[str] = []
        self._old_images: np.ndarray | None = None
        self._old_sha256 = ""
        manifest = _load_json(out / MANIFEST_FILE)
        if manifest.get("image_size") == image_size and manifest.get("resize") == RESIZE_MODE:
            try:
                self._old_images = verified_images(out, manifest)
                self._old_order = [str(item["sha256"]) for item in manifest["items"]]
                self._old_sha256 = str(manifest["images_sha256"])
            except DataError:  # interrupted or edited: nothing in it can be trusted
                self._old_images, self._old_order = None, []
        self._row = {sha: i for i, sha in enumerate(self._old_order)}

    def has_row(self, sha: str) -> bool:
        return sha in self._row

    def file_hashes(self, files: Sequence[ScannedFile], progress: bool) -> tuple[dict[str, str], dict[str, str]]:
        """Content hash of every readable file and the reason for every other one (a broken
        symbolic link, no permission), by relative path; unchanged files (same size and
        mtime) are not re-read."""
        hashes: dict[str, str] = {}
        unreadable: dict[str, str] = {}
        fresh: dict[str, list[Any]] = {}
        for f in tqdm(files, desc="hash", unit="file", disable=None if progress else True):
            try:
                st = f.path.stat()
                if problem := file_problem(st):
                    raise DecodeError(problem)
                old = self._stat.get(f.rel)
                same = old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns
                sha = str(old[2]) if same and old is not None else _sha256(f.path)
            except OSError as exc:
                unreadable[f.rel] = os_reason(exc, f.path)
                continue
            except DecodeError as exc:
                unreadable[f.rel] = str(exc)
                continue
            fresh[f.rel] = [st.st_size, st.st_mtime_ns, sha]
            hashes[f.rel] = sha
        self._stat = fresh
        return hashes, unreadable

    def save_index(self) -> None:
        write_json(self.out / INDEX_FILE, {"files": self._stat, "broken": self.broken})

    def write_images(self, order: Sequence[str], new_row: Callable[[str], np.ndarray]) -> tuple[bool, str]:
        """Write ``images.npy`` with rows in ``order``; rows not cached come from ``new_row``.

        Returns whether the file was rewritten (not when the verified cache already holds
        exactly ``order``) and its content hash, for the manifest that commits it.
        """
        if list(order) == self._old_order and self._old_images is not None:
            return False, self._old_sha256
        tmp = self.out / SCRATCH_FILES[1]
        dest = rows_file(tmp, len(order), self.image_size)
        try:
            old = self._old_images
            for i, sha in enumerate(order):
                row = self._row.get(sha)
                dest[i] = old[row] if row is not None and old is not None else new_row(sha)
                if i == len(order) // 2:
                    crash_point("images-partial")
            dest.flush()
            del dest
            digest = sha256_file(tmp)
            os.replace(tmp, self.out / IMAGES_FILE)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        crash_point("images")
        return True, digest


def verified_images(out: Path, manifest: dict[str, Any]) -> np.ndarray:
    """``out/images.npy`` memory-mapped, once checked to be the file ``manifest`` was written
    for (shape and content hash); a `DataError` saying to prepare again otherwise."""
    path = out / IMAGES_FILE
    again = f"run `hpo data prepare` again ({out / MANIFEST_FILE})"
    try:
        expected = str(manifest["images_sha256"])
        shape = (len(manifest["items"]), int(manifest["image_size"]), int(manifest["image_size"]), 3)
    except (KeyError, TypeError, ValueError):
        raise DataError(f"prepared data in {out} is from an older hpo or incomplete — {again}") from None
    try:
        images: np.ndarray = np.load(path, mmap_mode="r")
        digest = sha256_file(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc}) — {again}") from None
    if images.shape != shape or digest != expected:
        raise DataError(f"{path} is not the file its manifest was written for (interrupted prepare?) — {again}")
    return images
