"""Load an exported model (an `hpo export` folder, its ``saved_model/``, or a ``.tflite``)
with its labels and preprocessing contract, and predict on uint8 image batches.

Before TensorFlow sees a file, the files to load are checked against the export's
``SHA256SUMS`` (a truncated ``.tflite`` can crash the TFLite interpreter outright), then
``labels.json`` and ``preprocess.json`` are validated and one probe batch must give one
probability per label. Any failure is a one-line `ModelFileError`. This guards against
damage, not malice: load only exports you trust (a SavedModel runs the graph it contains)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo.data.prepare import MAX_SIZE, MIN_SIZE
from hpo.data.prepared import ClassInfo
from hpo.errors import HpoError, ModelFileError
from hpo.fsutil import checksum_problem, read_json
from hpo.records.export import LABELS_FILE, PREPROCESS_FILE, SAVED_MODEL_DIR
from hpo.savedmodel.predict import Prediction, collect_images, predict_files

__all__ = ["ExportedModel", "load_exported"]

PREDICT_BATCH = 128
META_FILES = (LABELS_FILE, PREPROCESS_FILE)


@dataclass
class ExportedModel:
    root: Path
    kind: str  # "saved_model" or "tflite"
    labels: tuple[ClassInfo, ...]  # labels.json, in index order
    image_size: int
    _fn: Callable[[np.ndarray], np.ndarray]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` for raw 0-255 pixels ``[N, S, S, 3]``."""
        if len(images) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        parts = [self._fn(images[i : i + PREDICT_BATCH]) for i in range(0, len(images), PREDICT_BATCH)]
        return np.concatenate(parts)

    def predict_files(self, paths: Sequence[str | os.PathLike[str]], top_k: int = 3) -> list[Prediction]:
        """Image files (and folders of them) decoded as at training time: one record per file,
        ``{"path", "top": [{"label", "name", "probability"}, ...]}`` or ``{"path", "error"}``."""

        return predict_files(self, collect_images([Path(p) for p in paths]), top_k)


def _read_meta(root: Path, name: str) -> Any:
    path = root / name
    if not path.is_file():
        raise ModelFileError(f"{path} is missing — point at a folder written by `hpo export`")
    try:
        return read_json(path)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read {path} ({exc}) — export the model again") from None


def _labels(root: Path) -> tuple[ClassInfo, ...]:
    """labels.json: ``[{"index": i, "name": str, "label": str}, ...]`` in index order."""
    labels = _read_meta(root, LABELS_FILE)
    if not (
        isinstance(labels, list)
        and labels
        and all(
            isinstance(item, dict)
            and item.get("index") == i
            and isinstance(item.get("name"), str)
            and isinstance(item.get("label"), str)
            for i, item in enumerate(labels)
        )
    ):
        raise ModelFileError(
            f"{root / LABELS_FILE} is malformed (expected a list of {{index, name, label}} in index order) "
            "— export the model again"
        )
    return tuple(ClassInfo(item["index"], item["name"], item["label"]) for item in labels)


def _image_size(root: Path) -> int:
    meta = _read_meta(root, PREPROCESS_FILE)
    size = meta.get("image_size") if isinstance(meta, dict) else None
    if type(size) is not int or not MIN_SIZE <= size <= MAX_SIZE:
        raise ModelFileError(
            f"{root / PREPROCESS_FILE} is malformed (image_size {size!r}, expected {MIN_SIZE}..{MAX_SIZE}) "
            "— export the model again"
        )
    return size


def _saved_model_fn(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # the closure keeps it (and its variables) alive
    if not hasattr(loaded, "serve"):
        raise ValueError("no `serve` signature: not written by `hpo export`")

    def fn(x: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(x, tf.float32)))

    return fn


def _model_fn(path: Path, kind: str, size: int, n_classes: int) -> Callable[[np.ndarray], np.ndarray]:
    """The model's batch function, after one probe batch shows it loads and gives ``n_classes``
    probabilities; a truncated or foreign model file is a `ModelFileError`, not a traceback."""
    import tensorflow as tf

    try:
        if kind == "tflite":
            from hpo.savedmodel.tflite import TFLiteRunner

            fn: Callable[[np.ndarray], np.ndarray] = TFLiteRunner(path)
        else:
            fn = _saved_model_fn(path)
        shape = np.shape(fn(np.zeros((1, size, size, 3), np.float32)))
    except (OSError, ValueError, RuntimeError, IndexError, KeyError, tf.errors.OpError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ModelFileError(f"cannot load the model {path} ({reason}) — export it again") from None
    if shape != (1, n_classes):
        raise ModelFileError(
            f"the model {path} gives outputs of shape {shape} for {n_classes} labels in labels.json — export it again"
        )
    return fn


def load_exported(path: Path) -> ExportedModel:
    """Open ``path``; missing, truncated or malformed files are one-line errors naming them."""
    if not path.exists():
        raise HpoError(f"model not found: {path}")
    if path.is_file() and path.suffix == ".tflite":
        root, kind = path.parent, "tflite"
    elif (path / SAVED_MODEL_DIR / "saved_model.pb").is_file():
        root, kind, path = path, "saved_model", path / SAVED_MODEL_DIR
    elif (path / "saved_model.pb").is_file():
        root, kind = path.parent, "saved_model"
    else:
        raise HpoError(
            f"not an exported model: {path} — expected an `hpo export` folder, its saved_model/ or a .tflite"
        )
    model_file = path.relative_to(root).as_posix()
    problem = checksum_problem(root, lambda rel: rel in META_FILES or rel.split("/")[0] == model_file)
    if problem:  # checked before TensorFlow: a truncated .tflite can crash the TFLite interpreter
        raise ModelFileError(f"{root}: {problem} — export the model again")
    labels = _labels(root)
    size = _image_size(root)
    return ExportedModel(root, kind, labels, size, _model_fn(path, kind, size, len(labels)))
