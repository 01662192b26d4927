"""`hpo predict` and `hpo evaluate`: run an exported model on image files.

Images go through the same decoder and resize as training (`hpo.data.decode`), so what the
model sees at inference matches what it saw in training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from hpo.data.decode import decode_many
from hpo.data.prepared import load_prepared
from hpo.data.scan import is_image_name, scan_dataset
from hpo.errors import HpoError
from hpo.fsutil import shown
from hpo.records.export import ClassificationReport
from hpo.savedmodel.metrics import classification_metrics

if TYPE_CHECKING:  # the model reads files through this module, not the other way round
    from hpo.savedmodel.inference import ExportedModel

__all__ = ["Evaluation", "Guess", "Prediction", "collect_images", "evaluate_dataset", "predict_files"]


def collect_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and image files (recursively, sorted) inside folders; a broken link
    inside a folder is kept, so that it is reported with its reason rather than left out."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if is_image_name(f.name) and (f.is_file() or f.is_symlink()))
        elif p.exists():
            files.append(p)
        else:
            link = " (a broken or looping symbolic link)" if p.is_symlink() else ""
            raise HpoError(f"no such file or folder: {shown(p)}{link}")
    return files


def _decode(
    model: ExportedModel, files: Sequence[Path], progress: bool
) -> tuple[np.ndarray, list[int], dict[int, str]]:
    """Decoded images of the readable files, their positions, and reasons for the others."""
    good: list[np.ndarray] = []
    ok: list[int] = []
    broken: dict[int, str] = {}
    for i, result in enumerate(decode_many(files, model.image_size, os.cpu_count() or 1, progress)):
        if isinstance(result, str):
            broken[i] = result
        else:
            good.append(result)
            ok.append(i)
    s = model.image_size
    return (np.stack(good) if good else np.zeros((0, s, s, 3), np.uint8)), ok, broken


class Guess(TypedDict):
    """One of a file's top classes."""

    label: str
    name: str
    probability: float


class Prediction(TypedDict, total=False):
    """One file's result: ``top`` guesses (best first), or the ``error`` that kept it from being read."""

    path: str
    top: list[Guess]
    error: str


def predict_files(
    model: ExportedModel, files: Sequence[Path], top_k: int = 3, progress: bool = False
) -> list[Prediction]:
    """One record per file: ``{"path", "top": [{"label", "name", "probability"}...]}`` or
    ``{"path", "error"}`` for a file that cannot be read."""
    images, ok, broken = _decode(model, files, progress)
    probs = model.predict(images)
    k = max(1, min(top_k, len(model.labels)))
    records: list[Prediction] = [{"path": str(f)} for f in files]
    for row, i in enumerate(ok):
        order = np.argsort(-probs[row])[:k]
        records[i]["top"] = [
            {"label": model.labels[j].label, "name": model.labels[j].name, "probability": float(probs[row, j])}
            for j in order
        ]
    for i, reason in broken.items():
        records[i]["error"] = reason
    return records


def _match_classes(model: ExportedModel, classes: Sequence[str]) -> dict[str, int]:
    """Dataset class -> model class index, by folder name or English label (any case)."""
    keys: dict[str, int] = {}
    for item in model.labels:
        keys[item.name.lower()] = item.index
        keys[item.label.lower()] = item.index
    unmatched = [c for c in classes if c.lower() not in keys]
    if unmatched:
        model_side = ", ".join(
            f"{shown(m.name)} ({shown(m.label)})" if m.name != m.label else shown(m.name) for m in model.labels
        )
        raise HpoError(
            f"dataset classes don't match the model: dataset has {', '.join(map(shown, classes))}; "
            f"model has {model_side} — unmatched: {', '.join(map(shown, unmatched))}"
        )
    return {c: keys[c.lower()] for c in classes}


@dataclass(frozen=True)
class Evaluation:
    """`hpo evaluate`'s result: ``model`` (its path) in ``format`` ("saved_model", "tflite") scored
    on ``dataset``, and the files it ``skipped`` (``{"path", "reason"}``) as unreadable."""

    model: str
    format: str
    dataset: str
    skipped: list[dict[str, str]]
    metrics: ClassificationReport

    def to_json(self) -> dict[str, Any]:
        """What ``hpo evaluate --json`` prints: these fields and the report's, side by side."""
        head = {"model": self.model, "format": self.format, "dataset": self.dataset, "skipped": self.skipped}
        return head | self.metrics.to_json()


def evaluate_dataset(model: ExportedModel, path: Path, split: str = "test", progress: bool = False) -> Evaluation:
    """Metrics of ``model`` on a class-folder dataset, or on one split of a prepared folder."""
    if not path.exists():
        raise HpoError(f"no such dataset folder: {shown(path)}")
    skipped: list[dict[str, str]] = []
    if (path / "manifest.json").is_file():
        data = load_prepared(path)
        if data.image_size != model.image_size:
            raise HpoError(f"{path} is prepared at {data.image_size}px but the model takes {model.image_size}px")
        mapping = _match_classes(model, [c.name for c in data.classes])
        images, labels = data.arrays(split)
        y_true = np.array([mapping[data.classes[i].name] for i in labels], np.int64)
        source = f"{path} ({split} split)"
    else:
        scan = scan_dataset(path)
        mapping = _match_classes(model, list(scan.classes))
        files = [f.path for f in scan.files]
        images, ok, broken = _decode(model, files, progress)
        y_true = np.array([mapping[scan.files[i].class_name] for i in ok], np.int64)
        skipped = [{"path": str(files[i]), "reason": r} for i, r in broken.items()]
        source = str(path)
    if len(y_true) == 0:
        raise HpoError(f"no readable images in {path}")
    probs = model.predict(images)
    metrics = classification_metrics(y_true, probs.argmax(1), [m.label for m in model.labels])
    return Evaluation(str(model.root), model.kind, source, skipped, metrics)
