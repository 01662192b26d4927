"""`hpo export`: best (or given) trial -> retrain on train+val -> score once on test ->
SavedModel + ``model.keras`` + labels/preprocess/metrics JSON + MODEL_CARD.md (+ TFLite).

``--out`` is checked before any training (`check_export_out`): it must be new, empty, or an
earlier export holding only the files its ``SHA256SUMS`` lists, unchanged (`hpo.records.owned`), never
the current, home, study or data folder nor a folder inside an export or prepared data. The folder is built beside the
destination (``.NAME.tmp-<pid>``) and swapped in at the end in one atomic rename, so a failed
or killed export never destroys the previous one; leftovers of killed exports are removed by
the next one. After writing, the SavedModel is reloaded with ``tf.saved_model.load`` and must
reproduce the in-memory model's outputs.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
import numpy as np
import optuna

from hpo.ablate.store import find_ablation, stored_path
from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import DiskFull, ExportError, HpoError, OutputError
from hpo.fsutil import (
    disk_full,
    file_lock,
    is_disk_full,
    recover_dir,
    replace_dir,
    shown,
    size_mb,
    temp_sibling,
    write_checksums,
    write_json,
    write_text,
)
from hpo.records.export import (
    CARD_FILE,
    KERAS_FILE,
    LABELS_FILE,
    PREPROCESS_FILE,
    SAVED_MODEL_DIR,
    ExportMetrics,
    TFLiteVariant,
)
from hpo.records.owned import export_strangers, listing, owner_above
from hpo.records.study import ExportRecord
from hpo.records.trial import is_baseline
from hpo.savedmodel.metrics import classification_metrics
from hpo.savedmodel.model_card import model_card, preprocess_contract
from hpo.study.study import accuracy

if TYPE_CHECKING:
    from hpo.model.builders import Builder
    from hpo.savedmodel.retrain import Retrained

__all__ = [
    "MAX_ABS_DIFF",
    "ExportError",
    "check_export_out",
    "export_study",
    "relative_path",
]

log = logging.getLogger(__name__)
MAX_ABS_DIFF = 1e-5


def relative_path(path: Path, start: Path) -> str:
    """``path`` relative to the folder ``start`` (POSIX separators, ``..`` where needed), so that
    a reader resolves it against its own copy of ``start``; absolute where no relative path
    exists (another drive on Windows)."""
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:
        return str(path.resolve())


def _protected(config: StudyConfig) -> list[tuple[Path, str]]:
    """Folders an export must neither be nor contain, resolved, with their names for users."""
    places = [(Path("/"), "the file-system root"), (Path.cwd(), "the current folder")]
    with suppress(RuntimeError):  # no $HOME and no passwd entry: nothing to protect
        places.append((Path.home(), "your home folder"))
    study_dir = config.path.resolve().parent
    places += [
        (study_dir, "the study file's folder"),
        (study_dir / config.study.name, "the study's run folder"),
        (config.data.prepared, "the study's prepared data"),
    ]
    if config.data.source is not None:
        places.append((config.data.source, "the study's dataset"))
    return [(p.resolve(), what) for p, what in places]


def check_export_out(config: StudyConfig, out: Path) -> Path:
    """``out`` resolved, once it is sure that replacing it loses nothing but an earlier export;
    an `OutputError` (one line) otherwise."""
    todo = f"name a new folder such as models/{config.study.name}"
    flag = f"--out {shown(out)}"
    if out.is_symlink():
        raise OutputError(f"{flag} is a symbolic link ({shown(os.readlink(out))}) — name the real folder, or {todo}")
    try:
        dest = out.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python < 3.13)
        raise OutputError(f"{flag} is a symbolic link loop — {todo}") from None
    for place, what in _protected(config):
        if dest == place:
            raise OutputError(f"{flag} is {what} ({shown(place)}) — {todo}")
        if place.is_relative_to(dest):
            raise OutputError(f"{flag} contains {what} ({shown(place)}) — {todo}")
    source = config.data.source.resolve() if config.data.source is not None else None
    if source is not None and dest.is_relative_to(source):
        raise OutputError(f"{flag} is inside the dataset ({shown(source)}) — {todo}")
    for folder in (dest, *dest.parents):
        if folder.exists() and not folder.is_dir():
            where = f"is a file ({shown(folder)})" if folder == dest else f"is inside a file ({shown(folder)})"
            raise OutputError(f"{flag} {where} — {todo}")
    if (owner := owner_above(dest)) is not None:
        raise OutputError(f"{flag} is inside {owner} — {todo}")
    if strangers := export_strangers(dest):
        raise OutputError(
            f"{flag} holds files not written by `hpo export` ({listing(strangers)}) — {todo}, or move them"
        )
    return dest


@contextmanager
def _build_folder(config: StudyConfig, out: Path) -> Iterator[Path]:
    """A fresh ``.NAME.tmp-<pid>`` beside ``out``, under ``out``'s export lock (so a second
    export into the same folder fails at once), once what killed exports left is cleaned up."""
    dest = check_export_out(config, out)
    with ExitStack() as stack:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(dest.with_name(f".{dest.name}.lock"), timeout=0))
            for path in recover_dir(dest):
                log.info("removed %s, left by an export that did not finish", path)
            check_export_out(config, out)  # a folder restored by recover_dir is checked too
            tmp = temp_sibling(dest)
            tmp.mkdir()
        except filelock.Timeout:
            raise OutputError(f"another `hpo export` is writing {dest} — wait for it to finish") from None
        except OSError as exc:
            raise OutputError(f"cannot write beside {dest} ({exc.strerror}) — name a folder you can write") from None
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        yield tmp


def _verify_reload(saved_model: Path, model: Any, batch: np.ndarray) -> float:
    """Max abs difference between the reloaded SavedModel and the in-memory model."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))  # keep a reference: .serve needs its variables
    served = loaded.serve(tf.constant(batch, tf.float32))
    diff = float(np.max(np.abs(np.asarray(served) - np.asarray(model(batch, training=False)))))
    if not diff <= MAX_ABS_DIFF:
        raise ExportError(f"reloaded SavedModel differs from the trained model by {diff:.2e} (> {MAX_ABS_DIFF:g})")
    return diff


def _tflite_variants(folder: Path, data: PreparedData, test: tuple[np.ndarray, np.ndarray]) -> dict[str, TFLiteVariant]:
    from hpo.savedmodel.tflite import QUANTIZATIONS, TFLiteRunner, convert

    train_x, _ = data.arrays("train")
    rng = np.random.default_rng(0)
    sample = train_x[rng.permutation(len(train_x))[:256]]
    out: dict[str, TFLiteVariant] = {}
    for q in QUANTIZATIONS:
        path = convert(folder / SAVED_MODEL_DIR, folder / f"model_{q}.tflite", q, sample)
        probs = np.concatenate([TFLiteRunner(path)(test[0][i : i + 128]) for i in range(0, len(test[0]), 128)])
        out[q] = TFLiteVariant(path.name, size_mb(path), float(np.mean(probs.argmax(1) == test[1])))
        log.info("tflite %s: %.3f MB, test accuracy %.4f", q, out[q].size_mb, out[q].test_accuracy)
    return out


def _write(
    folder: Path, config: StudyConfig, data: PreparedData, r: Retrained, tflite: bool, study: optuna.Study
) -> ExportMetrics:
    model = r.model
    test_x, test_y = data.arrays("test")
    if len(test_y) == 0:
        raise HpoError("the test split is empty — prepare the data with --test > 0 to score the export")
    probs = np.asarray(model.predict(test_x, batch_size=256, verbose=0))
    labels = data.classes
    test = classification_metrics(test_y, probs.argmax(1), [c.label for c in data.classes])
    model.export(str(folder / SAVED_MODEL_DIR), format="tf_saved_model", verbose=False)
    model.save(folder / KERAS_FILE)
    diff = _verify_reload(folder / SAVED_MODEL_DIR, model, test_x[:64].astype(np.float32))
    write_json(folder / LABELS_FILE, [asdict(c) for c in labels])
    write_json(folder / PREPROCESS_FILE, preprocess_contract(data.image_size, len(labels)))
    metrics = ExportMetrics(
        study=config.study.name,
        trial=r.trial.number,
        baseline=is_baseline(r.trial),
        trial_val_accuracy=accuracy(r.trial),
        params=r.params,
        param_count=int(model.count_params()),
        epochs=r.epochs,
        training_seconds=r.seconds,
        train_accuracy=r.train_accuracy,
        test_accuracy=test.accuracy,
        train_test_gap=r.train_accuracy - test.accuracy,
        test=test,
        split_sizes={s: len(v) for s, v in data.splits.items()},
        image_size=data.image_size,
        # from the export folder (``folder`` is its sibling until the swap, so the same path)
        source=relative_path(Path(root), folder) if (root := data.manifest.get("root")) else "",
        saved_model_size_mb=size_mb(folder / SAVED_MODEL_DIR),
        reload_max_abs_diff=diff,
        tflite=_tflite_variants(folder, data, (test_x, test_y)) if tflite else None,
        family=r.family,
        from_trial=r.from_trial,
        members=list(r.members) or None,
        ensemble_val_accuracy=r.ensemble_val_accuracy,
    )
    metrics.save(folder)
    ablation = find_ablation(study)  # `hpo ablate`'s path, whose largest gains the card names
    write_text(folder / CARD_FILE, model_card(metrics, labels, stored_path(ablation) if ablation else None))
    write_checksums(folder)  # `hpo predict` refuses a truncated file before TFLite would crash on it
    return metrics


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
    build: Builder | None = None,
    from_trial: bool = False,
    ensemble: int = 0,
) -> ExportMetrics:
    """Retrain (``from_trial``: load the trial's stored weights instead; ``ensemble`` > 0: average
    up to that many trials' stored weights, `hpo.savedmodel.ensemble`), score on test, write
    and verify the export folder ``out``; returns its ``metrics.json``.

    ``out`` is checked first and again just before the swap (files a user put there while
    the model trained are never deleted)."""
    from hpo.savedmodel.ensemble import load_ensemble
    from hpo.savedmodel.from_trial import load_trial_model
    from hpo.savedmodel.retrain import pick_trial, retrain  # TensorFlow

    trial = pick_trial(study, trial_number, max_cost)
    weights = 0
    try:
        with _build_folder(config, out) as tmp:
            if ensemble > 0:
                log.info("up to %d trials' stored weights, chosen on the val split", ensemble)
                r = load_ensemble(config, study, data, ensemble, build)
            elif from_trial:
                log.info("trial %d: its stored weights", trial.number)
                r = load_trial_model(config, study, data, trial, build)
            else:
                log.info("trial %d: retraining on train+val", trial.number)
                r = retrain(config, data, trial, epochs, progress, build)
            weights = 4 * int(r.model.count_params())
            metrics = _write(tmp, config, data, r, tflite, study)
            dest = check_export_out(config, out)
            replace_dir(tmp, dest)
    except Exception as exc:  # TensorFlow's writers say ENOSPC in their own exception types
        if not (isinstance(exc, DiskFull) or is_disk_full(exc)):
            raise
        # said once the half-written folder is gone, so "free" is what the next try has
        need = f"needs at least {2 * weights:,} bytes, the weights twice; " if weights else ""  # SavedModel, .keras
        raise disk_full(out, what=f"{need}the earlier export is untouched") from None
    record = ExportRecord(
        path=relative_path(dest, config.path.parent),
        trial=metrics.trial,
        test_accuracy=metrics.test_accuracy,
        epochs=metrics.epochs,
        param_count=metrics.param_count,
    )
    record.save(study)
    return metrics
