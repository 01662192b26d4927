"""The one training seam: `fit(candidate, data, splits, ...) -> FitResult`.

The objective (one trial, validated every epoch), the export's retrain (train+val, no
validation) and the benchmarks all train through `fit`, so seeding, shuffling, the tf.data
pipeline, BatchNorm recalibration and the NaN guard are written once. `release` ends a
model's life the same way everywhere (Keras session cleared, dtype policy kept).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from optuna.trial import FixedTrial

from hpo.config import StudyConfig
from hpo.config.schema import TrainingConfig
from hpo.data.pipeline import make_dataset
from hpo.data.prepared import PreparedData
from hpo.model.batchnorm import BatchNormCalibrator, RecalibrateBatchNorm, recalibration_sample
from hpo.model.builders import Builder
from hpo.model.families import Candidate, build_candidate
from hpo.records.trial import TrialRecord

__all__ = ["METRIC", "FitResult", "early_stopping", "fit", "release", "train_params"]

METRIC = "val_accuracy"


@dataclass
class FitResult:
    """What one ``fit`` recorded, epoch by epoch (filled while it runs, so a caller whose fit
    was cut short — pruned, interrupted — still has the epochs it ran)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # wall time of each epoch

    @property
    def curve(self) -> list[float]:
        """Val accuracy per epoch (empty without validation)."""
        return self.history.get(METRIC, [])

    @property
    def epochs_run(self) -> int:
        return len(self.seconds)

    def nan_epoch(self) -> int | None:
        """1-based epoch whose loss was not finite (0: no epoch finished); None if all were."""
        losses = self.history.get("loss", [])
        if not losses:
            return 0
        return next((i + 1 for i, v in enumerate(losses) if not math.isfinite(v)), None)

    def best_epoch(self) -> TrialRecord:
        """Best epoch (1-based) by val accuracy and its numbers, as trial attributes
        (``fit_train_accuracy`` is Keras's running metric, with dropout and augmentation on)."""
        if not self.curve:
            return TrialRecord(epochs_run=self.epochs_run)
        best = int(np.argmax(self.curve))
        return TrialRecord(
            best_epoch=best + 1,
            epochs_run=len(self.curve),
            fit_train_accuracy=float(self.history["accuracy"][best]),
            val_loss=float(self.history["val_loss"][best]),
            seconds_per_epoch=float(np.mean(self.seconds)) if self.seconds else 0.0,
        )


class _Recorder(keras.callbacks.Callback):
    """Per-epoch logs and wall time into a `FitResult` (runs first, so a pruned epoch is
    recorded too); stops training quietly at the first non-finite batch loss."""

    def __init__(self, result: FitResult) -> None:
        super().__init__()
        self.result, self._t0 = result, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.result.seconds.append(time.perf_counter() - self._t0)
        for key, value in (logs or {}).items():
            self.result.history.setdefault(key, []).append(float(value))


def fit(
    candidate: Candidate,
    data: PreparedData,
    splits: Sequence[str] = ("train",),
    *,
    epochs: int,
    seed: int,
    validation: str | None = "val",
    eval_batch_size: int = TrainingConfig.eval_batch_size,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    bn_calibration_images: int = 0,
    verbose: int | str = 0,
    result: FitResult | None = None,
) -> FitResult:
    """Train ``candidate.trainer`` on ``splits`` for ``epochs``, shuffled and seeded with
    ``seed`` (Keras, NumPy, Python and the tf.data shuffle alike), validating on
    ``validation`` after every epoch when given.

    With ``bn_calibration_images`` (hpo's CNN), BatchNorm statistics are recomputed for the
    current weights before each validation pass, and once more for the final weights when
    there is none. Exceptions from callbacks (a pruned trial) propagate; ``result`` (when given)
    keeps the epochs run until then."""
    result = result if result is not None else FitResult()
    keras.utils.set_random_seed(seed)
    train = make_dataset(data, tuple(splits), candidate.batch_size, shuffle=True, seed=seed)
    val = make_dataset(data, validation, eval_batch_size) if validation else None
    calls: list[keras.callbacks.Callback] = [_Recorder(result), *callbacks]
    sample = None
    if candidate.calibrate_bn and bn_calibration_images:
        sample = recalibration_sample(data, tuple(splits), bn_calibration_images, seed)
        if val is not None:
            calls.append(RecalibrateBatchNorm(candidate.model, sample))
    candidate.trainer.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=calls, shuffle=False)
    if sample is not None and val is None:  # the statistics of the weights that are kept
        BatchNormCalibrator(candidate.model)(sample)
    return result


def release() -> None:
    """Free the models of this process (``keras.backend.clear_session``), keeping the dtype
    policy, which Keras 3 keeps in the state it clears (else mixed precision would end after
    the first trial)."""
    policy = keras.config.dtype_policy()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(policy)
    gc.collect()


def early_stopping(patience: int) -> list[keras.callbacks.Callback]:
    """``[training] early_stopping_patience`` as Keras callbacks (none when 0): stop after
    ``patience`` epochs without a better val accuracy and restore the best epoch's weights."""
    if not patience:
        return []
    return [keras.callbacks.EarlyStopping(monitor=METRIC, mode="max", patience=patience, restore_best_weights=True)]


def train_params(
    config: StudyConfig,
    data: PreparedData,
    params: dict[str, Any],
    *,
    seed: int,
    epochs: int | None = None,
    build: Builder | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[Candidate, FitResult]:
    """One configuration (a trial's params) trained on train, validated on val, as a trial of
    ``config`` trains it — early stopping and BatchNorm recalibration as configured — with no
    study and no pruner: the benchmarks' way to train single configurations. ``callbacks`` run
    after the epoch's validation, before early stopping."""
    n_epochs = epochs or config.training.max_epochs
    candidate = build_candidate(
        FixedTrial(params),
        config,
        num_classes=data.num_classes,
        image_size=data.image_size,
        train_size=len(data.splits["train"]),
        epochs=n_epochs,
        build=build,
    )
    result = fit(
        candidate,
        data,
        epochs=n_epochs,
        seed=seed,
        eval_batch_size=config.training.eval_batch_size,
        callbacks=[*callbacks, *early_stopping(config.training.early_stopping_patience)],
        bn_calibration_images=config.training.bn_calibration_images,
    )
    return candidate, result
