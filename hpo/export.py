"""`hpo export`: best (or given) trial -> retrain on train+val -> score once on test ->
SavedModel + ``model.keras`` + labels/preprocess/metrics JSON + MODEL_CARD.md (+ TFLite).

The folder is built next to the destination and swapped in at the end, so a failed export
never destroys the previous one. After writing, the SavedModel is reloaded with
``tf.saved_model.load`` and must reproduce the in-memory model's outputs.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import tensorflow as tf

from hpo.config import StudyConfig
from hpo.data.decode import RESIZE_MODE
from hpo.data.prepared import PreparedData
from hpo.errors import HpoError
from hpo.fsutil import size_mb, write_json, write_text
from hpo.metrics import classification_metrics
from hpo.model_card import model_card
from hpo.retrain import Retrained, pick_trial, retrain
from hpo.study import EXPORT_ATTR, accuracy

__all__ = ["EXPORT_ATTR", "MAX_ABS_DIFF", "ExportError", "export_study"]

log = logging.getLogger(__name__)
MAX_ABS_DIFF = 1e-5


class ExportError(HpoError):
    """The written model does not behave like the trained one."""


def _verify_reload(saved_model: Path, model: Any, batch: np.ndarray) -> float:
    """Max abs difference between the reloaded SavedModel and the in-memory model."""
    loaded = tf.saved_model.load(str(saved_model))  # keep a reference: .serve needs its variables
    served = loaded.serve(tf.constant(batch, tf.float32))
    diff = float(np.max(np.abs(np.asarray(served) - np.asarray(model(batch, training=False)))))
    if not diff <= MAX_ABS_DIFF:
        raise ExportError(f"reloaded SavedModel differs from the trained model by {diff:.2e} (> {MAX_ABS_DIFF:g})")
    return diff


def _tflite_variants(folder: Path, data: PreparedData, test: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    from hpo.tflite import QUANTIZATIONS, TFLiteRunner, convert

    train_x, _ = data.arrays("train")
    rng = np.random.default_rng(0)
    sample = train_x[rng.permutation(len(train_x))[:256]]
    out: dict[str, Any] = {}
    for q in QUANTIZATIONS:
        path = convert(folder / "saved_model", folder / f"model_{q}.tflite", q, sample)
        probs = np.concatenate([TFLiteRunner(path)(test[0][i : i + 128]) for i in range(0, len(test[0]), 128)])
        acc = float(np.mean(probs.argmax(1) == test[1]))
        out[q] = {"file": path.name, "size_mb": size_mb(path), "test_accuracy": acc}
        log.info("tflite %s: %.3f MB, test accuracy %.4f", q, out[q]["size_mb"], acc)
    return out


def _write(folder: Path, config: StudyConfig, data: PreparedData, r: Retrained, tflite: bool) -> dict[str, Any]:
    model = r.model
    test_x, test_y = data.arrays("test")
    if len(test_y) == 0:
        raise HpoError("the test split is empty — prepare the data with --test > 0 to score the export")
    probs = np.asarray(model.predict(test_x, batch_size=256, verbose=0))
    labels = [{"index": c.index, "name": c.name, "label": c.label} for c in data.classes]
    test = classification_metrics(test_y, probs.argmax(1), [c.label for c in data.classes])
    model.export(str(folder / "saved_model"), format="tf_saved_model", verbose=False)
    model.save(folder / "model.keras")
    diff = _verify_reload(folder / "saved_model", model, test_x[:64].astype(np.float32))
    write_json(folder / "labels.json", labels)
    preprocess = {
        "image_size": data.image_size,
        "channels": "RGB",
        "resize": RESIZE_MODE,
        "input": "float32 [N, H, W, 3], raw 0-255 pixels; scaling (1/255) is inside the model",
        "decode": "hpo.data.decode.decode_file (EXIF orientation, any mode -> RGB, alpha on white)",
    }
    write_json(folder / "preprocess.json", preprocess)
    metrics: dict[str, Any] = {
        "study": config.study.name,
        "trial": r.trial.number,
        "baseline": bool(r.trial.user_attrs.get("baseline")),
        "trial_val_accuracy": accuracy(r.trial),
        "params": asdict(r.params),
        "param_count": int(model.count_params()),
        "epochs": r.epochs,
        "training_seconds": r.seconds,
        "train_accuracy": r.train_accuracy,
        "test_accuracy": test["accuracy"],
        "train_test_gap": r.train_accuracy - test["accuracy"],
        "test": test,
        "split_sizes": {s: len(v) for s, v in data.splits.items()},
        "image_size": data.image_size,
        "source": data.manifest.get("root", ""),
        "saved_model_size_mb": size_mb(folder / "saved_model"),
        "reload_max_abs_diff": diff,
    }
    if tflite:
        metrics["tflite"] = _tflite_variants(folder, data, (test_x, test_y))
    write_json(folder / "metrics.json", metrics)
    write_text(folder / "MODEL_CARD.md", model_card(metrics, labels))
    return metrics


def _swap_in(tmp: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def export_study(
    config: StudyConfig,
    study: optuna.Study,
    data: PreparedData,
    out: Path,
    *,
    trial_number: int | None = None,
    max_cost: float | None = None,
    epochs: int | None = None,
    tflite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Retrain, score on test, write and verify the export folder ``out``; returns metrics."""
    trial = pick_trial(study, trial_number, max_cost)
    log.info("retraining trial %d on train+val", trial.number)
    r = retrain(config, data, trial, epochs, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{int(time.time())}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        metrics = _write(tmp, config, data, r, tflite)
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record = {k: metrics[k] for k in ("trial", "test_accuracy", "epochs", "param_count")}
    study.set_user_attr(EXPORT_ATTR, {**record, "path": str(out.resolve())})  # for the report
    return metrics
