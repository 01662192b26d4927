"""Load an exported model (an `hpo export` folder, its ``saved_model/``, or a ``.tflite``)
with its labels and preprocessing contract, and predict on uint8 image batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HpoError
from hpo.fsutil import read_json

__all__ = ["ExportedModel", "load_exported"]

PREDICT_BATCH = 128


@dataclass
class ExportedModel:
    root: Path
    kind: str  # "saved_model" or "tflite"
    labels: list[dict[str, Any]]  # [{"index", "name", "label"}]
    image_size: int
    _fn: Callable[[np.ndarray], np.ndarray]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` for raw 0-255 pixels ``[N, S, S, 3]``."""
        if len(images) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        parts = [self._fn(images[i : i + PREDICT_BATCH]) for i in range(0, len(images), PREDICT_BATCH)]
        return np.concatenate(parts)


def _read_meta(root: Path, name: str) -> Any:
    path = root / name
    if not path.is_file():
        raise HpoError(f"{path} is missing — point at a folder written by `hpo export`")
    try:
        return read_json(path)
    except (OSError, ValueError) as exc:
        raise HpoError(f"cannot read {path} ({exc})") from None


def load_exported(path: Path) -> ExportedModel:
    """Open ``path``; missing files are one-line errors naming them."""
    if not path.exists():
        raise HpoError(f"model not found: {path}")
    if path.is_file() and path.suffix == ".tflite":
        root, kind = path.parent, "tflite"
    elif (path / "saved_model" / "saved_model.pb").is_file():
        root, kind, path = path, "saved_model", path / "saved_model"
    elif (path / "saved_model.pb").is_file():
        root, kind = path.parent, "saved_model"
    else:
        raise HpoError(
            f"not an exported model: {path} — expected an `hpo export` folder, its saved_model/ or a .tflite"
        )
    labels = _read_meta(root, "labels.json")
    size = int(_read_meta(root, "preprocess.json")["image_size"])
    fn: Callable[[np.ndarray], np.ndarray]
    if kind == "tflite":
        from hpo.tflite import TFLiteRunner

        fn = TFLiteRunner(path)
    else:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # the closure keeps it (and its variables) alive

        def fn(x: np.ndarray) -> np.ndarray:
            return np.asarray(loaded.serve(tf.constant(x, tf.float32)))

    return ExportedModel(root, kind, labels, size, fn)
