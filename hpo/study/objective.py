"""The Optuna objective: one trial = build, train, report val accuracy per epoch.

`Objective` loads the prepared data once per process. Each call builds the candidate of the
study's model family (`hpo.model.families`), trains it through `hpo.study.train.fit` with the library's
`KerasPruningCallback` reporting ``val_accuracy`` every epoch, records what the dashboard and
the export need (`hpo.records.trial`), and clears the Keras session so memory stays flat
across hundreds of trials.

Failure policy (after keras-tuner): a bad *candidate* (NaN loss, out of memory) raises
`TrialFailed` — the trial is marked FAIL with the reason and the study goes on; a bad
*configuration* raises `HpoError` and stops everything.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import optuna
import tensorflow as tf
from optuna_integration.keras import KerasPruningCallback

from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import TrialFailed
from hpo.model.builders import Builder, family_name
from hpo.model.cnn import inference_accuracy
from hpo.model.families import build_candidate
from hpo.records.trial import TrialRecord, write
from hpo.study.artifacts import open_store
from hpo.study.board import tensorboard_callback
from hpo.study.contract import EpochHook
from hpo.study.keep import BestWeights
from hpo.study.train import METRIC, FitResult, early_stopping, fit, release
from hpo.workers.process import visible_gpus_attr

__all__ = [
    "GAP_CONSTRAINT",
    "METRIC",
    "EpochHook",
    "Objective",
    "TrialFailed",
    "measure_latency_ms",
    "overfit_attrs",
]

GAP_CONSTRAINT = "train_val_gap"  # constraint key: gap - max_train_val_gap (<= 0 is feasible)

# one model per trial retraces tf.functions by design; TensorFlow's warning about it is noise
logging.getLogger("tensorflow").setLevel(logging.ERROR)


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


def overfit_attrs(model: keras.Model, data: PreparedData, val_accuracy: float) -> TrialRecord:
    """Train accuracy of the weights a trial keeps, in inference mode on the train split, and
    its gap to their val accuracy (what `max_train_val_gap` bounds)."""
    train_accuracy = inference_accuracy(model, *data.arrays("train"))
    return TrialRecord(train_accuracy=train_accuracy, train_val_gap=train_accuracy - val_accuracy)


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


def _seed(config: StudyConfig, trial: optuna.Trial) -> int:
    """The trial's training seed: the one it was enqueued with (`hpo ablate`), else [study] seed + number."""
    seed = TrialRecord.of(trial).seed
    return seed if seed is not None else config.study.seed + trial.number


class Objective:
    """Callable for ``study.optimize``; holds the data and config, nothing per trial.
    ``build``: a user's model builder, overriding ``[model]`` (see `hpo.model.families`);
    ``keras_callbacks``: added to every trial's fit (before the pruner, so a pruned epoch is seen)."""

    def __init__(
        self,
        config: StudyConfig,
        data: PreparedData,
        worker: str = "",
        on_start: Callable[[], None] | None = None,
        on_epoch: EpochHook | None = None,
        build: Builder | None = None,
        keras_callbacks: Sequence[keras.callbacks.Callback] = (),
    ) -> None:
        self.config = config
        self.data = data
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.on_start = on_start  # e.g. release the slot lock once the trial exists
        self.on_epoch = on_epoch  # e.g. the status line: (trial, epoch 1-based, epochs, val accuracy)
        self.build = build
        self.keras_callbacks = list(keras_callbacks)
        self.store = open_store(config.artifacts.store, create=True)  # None: [artifacts] store = "none"
        self.current: int | None = None  # number of the trial being trained

    def _measure_overfit(self, trial: optuna.Trial, model: keras.Model, curve: list[float]) -> None:
        """Train accuracy and gap of the weights kept (the best epoch's when early stopping
        restored them, else the last epoch's); the gap constraint when the study sets one."""
        if not curve:
            return
        kept = max(curve) if self.config.training.early_stopping_patience else curve[-1]
        overfit = overfit_attrs(model, self.data, kept)
        write(trial, overfit)
        limit, gap = self.config.study.max_train_val_gap, overfit.gap_or(math.nan)
        if limit is not None and math.isfinite(gap):
            trial.set_constraint(GAP_CONSTRAINT, gap - limit)

    def _callbacks(self, trial: optuna.Trial, epochs: int, kept: BestWeights | None) -> list[keras.callbacks.Callback]:
        cfg = self.config
        callbacks: list[keras.callbacks.Callback] = []
        if self.on_epoch is not None:
            callbacks.append(_EpochHookCallback(self.on_epoch, trial.number, epochs))
        if kept is not None:
            callbacks.append(kept)
        if cfg.tracking.tensorboard is not None:
            callbacks.append(tensorboard_callback(cfg.tracking.tensorboard, cfg.study.name, trial))
        callbacks += self.keras_callbacks
        if TrialRecord.of(trial).baseline and not cfg.multi_objective:
            callbacks.append(_ReportOnly(trial))
        elif not cfg.multi_objective:  # Optuna takes no intermediate values from multi-objective trials
            callbacks.append(KerasPruningCallback(trial, METRIC))
        return callbacks + early_stopping(cfg.training.early_stopping_patience)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        cfg, data = self.config, self.data
        self.current = trial.number
        if self.on_start is not None:
            self.on_start()
        retry_of = trial.storage.get_trial_system_attrs(trial._trial_id).get("failed_trial")
        write(
            trial,
            TrialRecord(
                worker=self.worker,
                cuda_visible_devices=visible_gpus_attr(),
                retry_of=int(retry_of) if retry_of is not None else None,
                family=family_name(cfg, self.build),
            ),
        )
        epochs = cfg.training.max_epochs
        result = FitResult()
        kept: BestWeights | None = None
        try:
            candidate = build_candidate(
                trial,
                cfg,
                num_classes=data.num_classes,
                image_size=data.image_size,
                train_size=len(data.splits["train"]),
                epochs=epochs,
                build=self.build,
            )
            write(trial, TrialRecord(model_params=candidate.params, param_count=int(candidate.model.count_params())))
            kept = BestWeights(candidate.model) if self.store is not None else None
            fit(
                candidate,
                data,
                epochs=epochs,
                seed=_seed(cfg, trial),
                eval_batch_size=cfg.training.eval_batch_size,
                callbacks=self._callbacks(trial, epochs, kept),
                bn_calibration_images=cfg.training.bn_calibration_images,
                result=result,
            )
            write(trial, TrialRecord(latency_ms=measure_latency_ms(candidate.model, data)))
            self._measure_overfit(trial, candidate.model, result.curve)
            if kept is not None and self.store is not None and result.nan_epoch() is None:
                kept.store(trial, self.store)
        except optuna.TrialPruned:
            if kept is not None and self.store is not None and cfg.artifacts.pruned:
                kept.store(trial, self.store)
            raise
        except KeyboardInterrupt:
            write(trial, TrialRecord(fail_reason="interrupted (SIGINT/SIGTERM); params re-queued"))
            raise
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            write(trial, TrialRecord(fail_reason=f"out of memory: {str(exc).splitlines()[0][:200]}"))
            raise TrialFailed(f"out of memory ({type(exc).__name__})") from exc
        finally:
            write(trial, result.best_epoch())
            if cfg.multi_objective:
                write(trial, TrialRecord(val_accuracy_curve=result.curve))
            release()
        if (epoch := result.nan_epoch()) is not None:
            write(trial, TrialRecord(fail_reason=f"loss became NaN at epoch {epoch}"))
            raise TrialFailed(f"loss became NaN at epoch {epoch}")
        best = float(max(result.curve))
        if not cfg.multi_objective:
            return best
        rec = TrialRecord.of(trial)
        cost = rec.latency_ms if cfg.study.objectives[1] == "latency_ms" else rec.param_count
        return best, float(cost or 0.0)
