"""The prepared-data cache: content hashes of source files and decoded uint8 image rows.

Files in the output folder:

- ``images.npy`` — ``uint8[N, S, S, 3]``, row ``i`` is ``manifest.json``'s ``items[i]``;
  opened memory-mapped, so no epoch decodes a JPEG and nothing needs to fit in RAM.
- ``index.json`` — per source file ``[size, mtime_ns, sha256]`` so an unchanged file is not
  read again, and the reasons of files that failed to decode (by content hash).

A re-run reuses every row whose content hash is already in ``images.npy`` at the same size
and decodes only new files; with nothing new it rewrites nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hpo.data.decode import RESIZE_MODE
from hpo.data.scan import ScannedFile
from hpo.fsutil import read_json, write_json

__all__ = [
    "IMAGES_FILE",
    "INDEX_FILE",
    "MANIFEST_FILE",
    "PreparedCache",
    "scratch_rows",
    "sha256_file",
]

IMAGES_FILE = "images.npy"
INDEX_FILE = "index.json"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def scratch_rows(path: Path, rows: int, size: int) -> Iterator[np.ndarray]:
    """A temporary on-disk ``uint8[rows, size, size, 3]`` array, deleted on exit."""
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(max(rows, 1), size, size, 3))
    try:
        yield arr
    finally:
        del arr
        path.unlink(missing_ok=True)


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
        manifest = _load_json(out / MANIFEST_FILE)
        images_path = out / IMAGES_FILE
        same_shape = manifest.get("image_size") == image_size and manifest.get("resize") == RESIZE_MODE
        if same_shape and images_path.exists():
            try:
                images = np.load(images_path, mmap_mode="r")
            except (OSError, ValueError):
                images = None
            order = [item["sha256"] for item in manifest.get("items", [])]
            if images is not None and images.shape[0] == len(order):
                self._old_images, self._old_order = images, order
        self._row = {sha: i for i, sha in enumerate(self._old_order)}

    def has_row(self, sha: str) -> bool:
        return sha in self._row

    def file_hashes(self, files: Sequence[ScannedFile], progress: bool) -> list[str]:
        """Content hash of every file; unchanged files (same size and mtime) are not re-read."""
        hashes: list[str] = []
        fresh: dict[str, list[Any]] = {}
        for f in tqdm(files, desc="hash", unit="file", disable=None if progress else True):
            st = f.path.stat()
            old = self._stat.get(f.rel)
            same = old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns
            sha = str(old[2]) if same and old is not None else sha256_file(f.path)
            fresh[f.rel] = [st.st_size, st.st_mtime_ns, sha]
            hashes.append(sha)
        self._stat = fresh
        return hashes

    def save_index(self) -> None:
        write_json(self.out / INDEX_FILE, {"files": self._stat, "broken": self.broken})

    def write_images(self, order: Sequence[str], new_row: Callable[[str], np.ndarray]) -> bool:
        """Write ``images.npy`` with rows in ``order``; rows not cached come from ``new_row``.

        Returns False (and writes nothing) when the cached file already holds exactly ``order``.
        """
        if list(order) == self._old_order and self._old_images is not None:
            return False
        s = self.image_size
        tmp = self.out / f".{IMAGES_FILE}.tmp"
        dest = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(order), s, s, 3))
        old = self._old_images
        for i, sha in enumerate(order):
            row = self._row.get(sha)
            dest[i] = old[row] if row is not None and old is not None else new_row(sha)
        dest.flush()
        del dest
        os.replace(tmp, self.out / IMAGES_FILE)
        return True
