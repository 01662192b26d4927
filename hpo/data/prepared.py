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

__all__ = ["ClassInfo", "PreparedData", "from_arrays", "load_prepared"]


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


def _images(name: str, x: Any) -> np.ndarray:
    """``x`` as uint8 ``[N, S, S, 3]`` (0-255), or a `DataError` naming ``name``."""
    arr = np.asarray(x)
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[1] != arr.shape[2]:
        raise DataError(f"{name}: expected RGB images shaped [N, S, S, 3], got {list(arr.shape)}")
    if arr.dtype == np.uint8:
        return np.asarray(arr, np.uint8)
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{name}: expected uint8 or float pixels, got {arr.dtype}")
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if lo < 0 or hi > 255 or not np.isfinite(hi):
        raise DataError(f"{name}: pixels must lie in 0..255, got {lo:g}..{hi:g}")
    if 0 < hi <= 1.0:
        raise DataError(f"{name}: pixels look scaled to 0..1 (max {hi:g}) — pass 0..255; the model scales them")
    return np.asarray(np.rint(arr), dtype=np.uint8)


def from_arrays(
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    x_test: Any = None,
    y_test: Any = None,
    *,
    class_names: list[str] | None = None,
) -> PreparedData:
    """In-memory data as a `PreparedData`: RGB images ``[N, S, S, 3]`` (uint8, or floats in
    0..255) and integer labels ``0..K-1`` for train, val and (optional; `export` needs it) test."""
    given = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    splits: dict[str, np.ndarray] = {}
    start = 0
    for split, (x, y) in given.items():
        if x is None and y is None and split == "test":
            x, y = np.zeros((0, *images[0].shape[1:]), np.uint8), np.zeros(0, np.int32)
        if x is None or y is None:
            raise DataError(f"x_{split} and y_{split}: give both")
        xs, ys = _images(f"x_{split}", x), np.asarray(y)
        if ys.ndim != 1 or len(ys) != len(xs) or (ys.size and not np.issubdtype(ys.dtype, np.integer)):
            raise DataError(f"y_{split}: expected {len(xs)} integer labels, got shape {list(ys.shape)} {ys.dtype}")
        if images and xs.shape[1:] != images[0].shape[1:]:
            raise DataError(f"x_{split}: images are {list(xs.shape[1:])}, x_train's {list(images[0].shape[1:])}")
        images.append(xs)
        labels.append(ys.astype(np.int32))
        splits[split] = np.arange(start, start + len(xs))
        start += len(xs)
    y_all = np.concatenate(labels)
    k = len(class_names) if class_names is not None else int(y_all.max()) + 1
    if y_all.size and (y_all.min() < 0 or y_all.max() >= k):
        raise DataError(f"labels must lie in 0..{k - 1} ({k} classes), got {y_all.min()}..{y_all.max()}")
    if k < 2 or len(splits["train"]) == 0 or len(splits["val"]) == 0:
        raise DataError(f"need at least 2 classes and train and val images, got {k} classes, {start} images")
    names = class_names or [str(i) for i in range(k)]
    classes = tuple(ClassInfo(i, n, n) for i, n in enumerate(names))
    x_all = np.concatenate(images)
    return PreparedData(Path("<arrays>"), int(x_all.shape[1]), classes, x_all, y_all, splits, {})
