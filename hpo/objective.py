"""The Optuna objective: one trial = build, train, report val accuracy per epoch.

`Objective` loads the prepared data once per process. Each call builds the candidate from
`suggest`, trains it with the library's `KerasPruningCallback` reporting ``val_accuracy``
every epoch, stores what the dashboard and the export need as user attrs, and clears the
Keras session so memory stays flat across hundreds of trials.

Failure policy (after keras-tuner): a bad *candidate* (NaN loss, out of memory) raises
`TrialFailed` — the trial is marked FAIL with the reason and the study goes on; a bad
*configuration* raises `HpoError` and stops everything.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import keras
import numpy as np
import optuna
import tensorflow as tf
from optuna_integration.keras import KerasPruningCallback

from hpo.batchnorm import RecalibrateBatchNorm, recalibration_sample
from hpo.config import StudyConfig
from hpo.data.pipeline import make_dataset
from hpo.data.prepared import PreparedData
from hpo.errors import TrialFailed
from hpo.model import build_cnn, compile_cnn, inference_accuracy, with_augmentation
from hpo.search_space import suggest
from hpo.study import BASELINE_ATTR, CURVE_ATTR
from hpo.worker import visible_gpus_attr

__all__ = [
    "GAP_CONSTRAINT",
    "METRIC",
    "EpochHook",
    "Objective",
    "TrialFailed",
    "fit_history_attrs",
    "measure_latency_ms",
    "overfit_attrs",
]

METRIC = "val_accuracy"
GAP_CONSTRAINT = "train_val_gap"  # constraint key: gap - max_train_val_gap (<= 0 is feasible)

# one model per trial retraces tf.functions by design; TensorFlow's warning about it is noise
logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _EpochLog(keras.callbacks.Callback):
    """Per-epoch logs and wall time (runs first, so a pruned epoch is recorded too); stops
    training quietly at the first non-finite batch loss."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t0)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


#: (trial number, epoch 1-based, epochs, val accuracy) after every epoch
EpochHook = Callable[[int, int, int, "float | None"], None]


class _EpochHookCallback(keras.callbacks.Callback):
    def __init__(self, hook: EpochHook, trial: int, epochs: int) -> None:
        super().__init__()
        self.hook, self.trial, self.epochs = hook, trial, epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(METRIC)
        self.hook(self.trial, epoch + 1, self.epochs, float(value) if value is not None else None)


class _ReportOnly(keras.callbacks.Callback):
    """Reports val accuracy per epoch without asking the pruner: the baseline is the study's
    yardstick, so it always trains to the end (and never competes in a pruner's rungs)."""

    def __init__(self, trial: optuna.Trial) -> None:
        super().__init__()
        self.trial = trial

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs and METRIC in logs:
            self.trial.report(float(logs[METRIC]), step=epoch)


def fit_history_attrs(history: dict[str, list[float]], seconds: list[float]) -> dict[str, Any]:
    """User attrs from a Keras history: best epoch (1-based) by val accuracy and its numbers
    (``fit_train_accuracy`` is Keras's running metric, with dropout and augmentation on)."""
    val_acc = history.get(METRIC, [])
    if not val_acc:
        return {"epochs_run": 0}
    best = int(np.argmax(val_acc))
    return {
        "best_epoch": best + 1,
        "epochs_run": len(val_acc),
        "fit_train_accuracy": float(history["accuracy"][best]),
        "val_loss": float(history["val_loss"][best]),
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else 0.0,
    }


def overfit_attrs(model: keras.Model, data: PreparedData, val_accuracy: float) -> dict[str, float]:
    """Train accuracy of the weights a trial keeps, in inference mode on the train split, and
    its gap to their val accuracy (what `max_train_val_gap` bounds)."""
    train_accuracy = inference_accuracy(model, *data.arrays("train"))
    return {"train_accuracy": train_accuracy, "train_val_gap": train_accuracy - val_accuracy}


def measure_latency_ms(model: keras.Model, data: PreparedData, batch: int = 32, runs: int = 5) -> float:
    """CPU-side inference time per image (ms): median of ``runs`` forward passes over a fixed
    batch of validation images, after a warm-up."""
    idx = data.indices("val")[:batch]
    x = tf.constant(np.asarray(data.images[idx]), tf.float32)
    model(x, training=False)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        model(x, training=False)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3 / len(idx)


class Objective:
    """Callable for ``study.optimize``; holds the data and config, nothing per trial."""

    def __init__(
        self,
        config: StudyConfig,
        data: PreparedData,
        worker: str = "",
        on_start: Callable[[], None] | None = None,
        on_epoch: EpochHook | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.on_start = on_start  # e.g. release the slot lock once the trial exists
        self.on_epoch = on_epoch  # e.g. the status line: (trial, epoch 1-based, epochs, val accuracy)
        self.current: int | None = None  # number of the trial being trained

    def _measure_overfit(self, trial: optuna.Trial, model: keras.Model, curve: list[float]) -> None:
        """Train accuracy and gap of the weights kept (the best epoch's when early stopping
        restored them, else the last epoch's); the gap constraint when the study sets one."""
        if not curve:
            return
        kept = max(curve) if self.config.training.early_stopping_patience else curve[-1]
        overfit = overfit_attrs(model, self.data, kept)
        for key, value in overfit.items():
            trial.set_user_attr(key, value)
        limit = self.config.study.max_train_val_gap
        if limit is not None and math.isfinite(overfit["train_val_gap"]):
            trial.set_constraint(GAP_CONSTRAINT, overfit["train_val_gap"] - limit)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        cfg, data = self.config, self.data
        self.current = trial.number
        if self.on_start is not None:
            self.on_start()
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("cuda_visible_devices", visible_gpus_attr())
        retry_of = trial.storage.get_trial_system_attrs(trial._trial_id).get("failed_trial")
        if retry_of is not None:
            trial.set_user_attr("retry_of", int(retry_of))
        params = suggest(trial, cfg.search)
        trial.set_user_attr("cnn_params", asdict(params))
        epochs = cfg.training.max_epochs
        keras.utils.set_random_seed(cfg.study.seed + trial.number)
        train = make_dataset(data, "train", params.batch_size, shuffle=True, seed=cfg.study.seed + trial.number)
        val = make_dataset(data, "val", cfg.training.eval_batch_size)
        steps = math.ceil(len(data.splits["train"]) / params.batch_size)
        log = _EpochLog()
        callbacks: list[keras.callbacks.Callback] = [log]
        if self.on_epoch is not None:
            callbacks.append(_EpochHookCallback(self.on_epoch, trial.number, epochs))
        if trial.user_attrs.get(BASELINE_ATTR) and not cfg.multi_objective:
            callbacks.append(_ReportOnly(trial))
        elif not cfg.multi_objective:  # Optuna takes no intermediate values from multi-objective trials
            callbacks.append(KerasPruningCallback(trial, METRIC))
        if cfg.training.early_stopping_patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor=METRIC, mode="max", patience=cfg.training.early_stopping_patience, restore_best_weights=True
                )
            )
        try:
            model = build_cnn(params, data.num_classes, data.image_size)
            trial.set_user_attr("param_count", int(model.count_params()))
            if cfg.training.bn_calibration_images:
                sample = recalibration_sample(data, "train", cfg.training.bn_calibration_images, cfg.study.seed)
                callbacks.append(RecalibrateBatchNorm(model, sample))
            trainer = compile_cnn(with_augmentation(model, params), params, steps, epochs)
            trainer.fit(
                train,
                validation_data=val,
                epochs=epochs,
                verbose=0,
                callbacks=callbacks,
                shuffle=False,
            )
            trial.set_user_attr("latency_ms", measure_latency_ms(model, data))
            self._measure_overfit(trial, model, log.history.get(METRIC, []))
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", "interrupted (SIGINT/SIGTERM); params re-queued")
            raise
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:200]}")
            raise TrialFailed(f"out of memory ({type(exc).__name__})") from exc
        finally:
            for key, value in fit_history_attrs(log.history, log.seconds).items():
                trial.set_user_attr(key, value)
            if cfg.multi_objective:
                trial.set_user_attr(CURVE_ATTR, log.history.get(METRIC, []))
            policy = keras.config.dtype_policy()  # Keras 3 keeps it in the state clear_session wipes
            keras.backend.clear_session()
            keras.config.set_dtype_policy(policy)  # else mixed precision would end after trial 1
            gc.collect()
        losses = log.history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            epoch = next((i + 1 for i, v in enumerate(losses) if not math.isfinite(v)), 0)
            trial.set_user_attr("fail_reason", f"loss became NaN at epoch {epoch}")
            raise TrialFailed(f"loss became NaN at epoch {epoch}")
        best = float(max(log.history[METRIC]))
        if not cfg.multi_objective:
            return best
        cost = cfg.study.objectives[1]
        return best, float(trial.user_attrs["latency_ms"] if cost == "latency_ms" else trial.user_attrs["param_count"])
