"""Read a prepared folder (`hpo data prepare` output) as numpy arrays; no TensorFlow here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo.data.cache import MANIFEST_FILE, verified_images
from hpo.data.split import SPLITS
from hpo.errors import DataError
from hpo.fsutil import read_json

__all__ = ["ClassInfo", "PreparedData", "load_prepared"]


@dataclass(frozen=True)
class ClassInfo:
    index: int
    name: str  # folder name
    label: str  # display label (English for Animals-10)


@dataclass(frozen=True)
class PreparedData:
    """Images (memory-mapped uint8 ``[N, S, S, 3]``), int32 labels and split row indices."""

    path: Path
    image_size: int
    classes: tuple[ClassInfo, ...]
    images: np.ndarray
    labels: np.ndarray
    splits: dict[str, np.ndarray]
    manifest: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def indices(self, *splits: str) -> np.ndarray:
        """Sorted row indices of the union of ``splits`` (e.g. ``"train", "val"``)."""
        for s in splits:
            if s not in self.splits:
                raise DataError(f"unknown split '{s}' — choose from {', '.join(SPLITS)}")
        return np.sort(np.concatenate([self.splits[s] for s in splits]))

    def arrays(self, *splits: str) -> tuple[np.ndarray, np.ndarray]:
        """In-memory ``(images, labels)`` of ``splits``."""
        idx = self.indices(*splits)
        return np.asarray(self.images[idx]), self.labels[idx]


def load_prepared(path: Path) -> PreparedData:
    """Open a prepared folder; a missing or stale cache is a `DataError` saying what to run."""
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise DataError(
            f"no prepared data in {path} (missing {MANIFEST_FILE}) — run `hpo data prepare SRC --out {path}`"
        )
    try:
        manifest = read_json(manifest_path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {manifest_path} ({exc}) — run `hpo data prepare` again") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{manifest_path} is not a prepared-data manifest — run `hpo data prepare` again")
    images = verified_images(path, manifest)  # the rows this manifest was written for, or a DataError
    try:
        items = manifest["items"]
        classes = tuple(ClassInfo(i, str(c["name"]), str(c["label"])) for i, c in enumerate(manifest["classes"]))
        class_index = {c.name: c.index for c in classes}
        labels = np.fromiter((class_index[it["class"]] for it in items), dtype=np.int32, count=len(items))
        split_names = np.array([str(it["split"]) for it in items])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{manifest_path} is malformed ({exc!r}) — run `hpo data prepare` again") from None
    splits = {s: np.flatnonzero(split_names == s) for s in SPLITS}
    return PreparedData(path, int(manifest["image_size"]), classes, images, labels, splits, manifest)
