"""``metrics.json``: what `hpo export` measured, as one typed record (`ExportMetrics`).

The export writes it with `ExportMetrics.save`; compare, report, model card and the CLI read it
with `ExportMetrics.load` and attribute access. This is the only module that knows the JSON keys:
they are the field names, unchanged since the first export, so every earlier export still loads
(``family`` absent: ``"cnn"``; ``tflite`` absent: None; ``from_trial`` absent: false). A missing,
non-JSON or garbled file is a one-line `ModelFileError` naming the file and the key. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hpo.errors import ModelFileError
from hpo.fsutil import read_json, write_json
from hpo.records.reader import AGAIN, Reader

__all__ = [
    "CARD_FILE",
    "KERAS_FILE",
    "LABELS_FILE",
    "METRICS_FILE",
    "PREPROCESS_FILE",
    "SAVED_MODEL_DIR",
    "ClassScore",
    "ClassificationReport",
    "ExportMetrics",
    "TFLiteVariant",
]

#: the names of an export folder's parts (its SHA256SUMS is `hpo.fsutil.CHECKSUMS_FILE`)
SAVED_MODEL_DIR = "saved_model"
KERAS_FILE = "model.keras"
LABELS_FILE = "labels.json"
PREPROCESS_FILE = "preprocess.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"


@dataclass(frozen=True)
class ClassScore:
    """One class's row of a `ClassificationReport`: precision, recall and F1 (0 where undefined),
    and ``support``, its number of true images."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int

    @classmethod
    def _read(cls, r: Reader) -> ClassScore:
        return cls(r.text("label"), r.number("precision"), r.number("recall"), r.number("f1"), r.integer("support"))


@dataclass(frozen=True)
class ClassificationReport:
    """Accuracy over ``n`` images, one `ClassScore` per class, macro F1 (over the classes with
    support) and the confusion matrix: rows = true class, columns = predicted, in ``per_class`` order.
    `hpo.savedmodel.metrics.classification_metrics` computes it; ``metrics.json`` holds it as ``test``."""

    accuracy: float
    n: int
    per_class: tuple[ClassScore, ...]
    macro_f1: float
    confusion_matrix: list[list[int]]

    def to_json(self) -> dict[str, Any]:
        """The JSON object (``metrics.json``'s ``test``; `hpo evaluate --json` prints its keys too)."""
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class": [{f.name: getattr(c, f.name) for f in fields(c)} for c in self.per_class],
            "macro_f1": self.macro_f1,
            "confusion_matrix": [list(row) for row in self.confusion_matrix],
        }

    @classmethod
    def _read(cls, r: Reader) -> ClassificationReport:
        accuracy, n = r.number("accuracy"), r.integer("n")
        at = r.key("per_class")
        per_class = tuple(
            ClassScore._read(Reader.of(r.source, c, f"{at}[{i}]")) for i, c in enumerate(r.items("per_class"))
        )
        macro_f1, matrix, k = r.number("macro_f1"), r.items("confusion_matrix"), len(per_class)
        if len(matrix) != k or any(not isinstance(row, list) or len(row) != k for row in matrix):
            raise r.wrong(r.key("confusion_matrix"), matrix, f"a {k} x {k} list of lists (per_class has {k} classes)")
        cells = [cell for row in matrix for cell in row]
        if bad := [c for c in cells if isinstance(c, bool) or not isinstance(c, int)]:
            raise r.wrong(r.key("confusion_matrix"), bad[0], "a matrix of integers")
        return cls(accuracy, n, per_class, macro_f1, [list(row) for row in matrix])


@dataclass(frozen=True)
class TFLiteVariant:
    """One ``model_<quantization>.tflite`` of an export: its file name (in the export folder),
    size in MB (10^6 bytes) and accuracy on the test split."""

    file: str
    size_mb: float
    test_accuracy: float

    @classmethod
    def _read(cls, r: Reader) -> TFLiteVariant:
        return cls(r.text("file"), r.number("size_mb"), r.number("test_accuracy"))


def _variants(r: Reader) -> dict[str, TFLiteVariant]:
    return {q: TFLiteVariant._read(r.child(q)) for q in r.obj}


def _numbers(r: Reader, name: str) -> list[int]:
    values = r.items(name)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise r.wrong(r.key(name), values, "a list of trial numbers")
    return list(values)


@dataclass(frozen=True)
class ExportMetrics:
    """``metrics.json`` of an export: the trial, its retraining, its one score on the test split.

    ``trial_val_accuracy``: the trial's val accuracy in the search (None if it had none);
    ``params``: its hyperparameters as JSON holds them; ``epochs``/``training_seconds``/
    ``train_accuracy``: the retraining on train+val; ``train_test_gap``: train minus test accuracy;
    ``split_sizes``: images per split; ``source``: the dataset, relative to the export folder
    (absolute where no relative path exists, "" if unknown); ``reload_max_abs_diff``: how far the
    reloaded SavedModel's outputs were from the trained model's; ``tflite``: quantization ->
    variant, None when none was written; ``family``: "cnn" (hpo's from-scratch CNN), a
    ``keras.applications`` backbone such as "mobilenet_v3_small", or a user builder's
    "package.module:function"; ``from_trial``: the trial's own weights (train split only, up to
    its best epoch ``epochs``; ``training_seconds`` 0), not retrained; ``members``: the trials an
    ensemble export averages (None for one trial, which ``trial`` then is; else ``trial``, ``params``
    and ``epochs`` are its first member's), ``ensemble_val_accuracy``: the ensemble's on the val split."""

    study: str
    trial: int
    baseline: bool
    trial_val_accuracy: float | None
    params: dict[str, Any]
    param_count: int
    epochs: int
    training_seconds: float
    train_accuracy: float
    test_accuracy: float
    train_test_gap: float
    test: ClassificationReport
    split_sizes: dict[str, int]
    image_size: int
    source: str
    saved_model_size_mb: float
    reload_max_abs_diff: float
    tflite: dict[str, TFLiteVariant] | None = None
    family: str = "cnn"
    from_trial: bool = False
    members: list[int] | None = None
    ensemble_val_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``metrics.json`` (no ``tflite`` key when there are no variants, no
        ``members``/``ensemble_val_accuracy`` for one trial's export)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["test"] = self.test.to_json()
        out["params"] = dict(self.params)
        out["split_sizes"] = dict(self.split_sizes)
        for key in ("tflite", "members", "ensemble_val_accuracy"):  # one trial's export: its keys as before
            if out[key] is None:
                del out[key]
        if self.tflite is not None:
            out["tflite"] = {q: {f.name: getattr(v, f.name) for f in fields(v)} for q, v in self.tflite.items()}
        return out

    def save(self, folder: Path) -> Path:
        """Write ``folder/metrics.json`` atomically; returns its path."""
        path = folder / METRICS_FILE
        write_json(path, self.to_json())
        return path

    @classmethod
    def from_json(cls, data: Any, source: str | Path = METRICS_FILE) -> ExportMetrics:
        """The record from a parsed ``metrics.json``; a `ModelFileError` naming ``source`` and the
        first missing or garbled key otherwise. Keys this version does not know are ignored."""
        r = Reader.of(str(source), data)
        return cls(
            study=r.text("study"),
            trial=r.integer("trial"),
            baseline=r.flag("baseline"),
            trial_val_accuracy=None if r.raw("trial_val_accuracy") is None else r.number("trial_val_accuracy"),
            params=dict(r.child("params").obj),
            param_count=r.integer("param_count"),
            epochs=r.integer("epochs"),
            training_seconds=r.number("training_seconds"),
            train_accuracy=r.number("train_accuracy"),
            test_accuracy=r.number("test_accuracy"),
            train_test_gap=r.number("train_test_gap"),
            test=ClassificationReport._read(r.child("test")),
            split_sizes=r.counts("split_sizes"),
            image_size=r.integer("image_size"),
            source=r.text("source"),
            saved_model_size_mb=r.number("saved_model_size_mb"),
            reload_max_abs_diff=r.number("reload_max_abs_diff"),
            tflite=None if r.obj.get("tflite") is None else _variants(r.child("tflite")),
            family=r.text("family") if "family" in r.obj else "cnn",
            from_trial=r.flag("from_trial") if "from_trial" in r.obj else False,
            members=None if r.obj.get("members") is None else _numbers(r, "members"),
            ensemble_val_accuracy=None
            if r.obj.get("ensemble_val_accuracy") is None
            else r.number("ensemble_val_accuracy"),
        )

    @classmethod
    def load(cls, folder_or_file: Path) -> ExportMetrics:
        """The record of an export folder (its ``metrics.json``), or of a ``metrics.json`` file;
        a one-line `ModelFileError` when the file is missing, unreadable, not JSON or garbled."""
        file = folder_or_file / METRICS_FILE if folder_or_file.is_dir() else folder_or_file
        try:
            data = read_json(file)
        except FileNotFoundError:
            raise ModelFileError(f"{file} is missing — point at a folder written by `hpo export`") from None
        except OSError as exc:
            raise ModelFileError(f"cannot read {file} ({exc.strerror or exc}) — {AGAIN}") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ModelFileError(f"{file} is not JSON ({exc}) — {AGAIN}") from None
        return cls.from_json(data, file)
