"""A trial's best epoch, kept: `BestWeights` copies the model's weights whenever val accuracy
improves and stores them as the trial's artifact (`hpo.study.artifacts`) once the trial is done.

It keeps the first epoch of the best val accuracy, as `hpo.study.train.FitResult.best_epoch`
counts ``best_epoch``; the copy is taken after BatchNorm recalibration and validation, so the
stored weights give exactly the val accuracy the trial reported for that epoch.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import optuna

from hpo.records.trial import StoredWeights
from hpo.study.artifacts import upload_weights
from hpo.study.train import METRIC

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

__all__ = ["BestWeights"]

log = logging.getLogger(__name__)


class BestWeights(keras.callbacks.Callback):
    """Keras callback: the weights of ``model`` (the inference model a trial exports) at its best
    epoch so far, in memory."""

    def __init__(self, model: keras.Model) -> None:
        super().__init__()
        self.target = model
        self.best = -math.inf
        self.epoch = 0  # 1-based; 0: no epoch validated yet
        self.weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(METRIC)
        if value is not None and float(value) > self.best:
            self.best, self.epoch, self.weights = float(value), epoch + 1, self.target.get_weights()

    def store(self, trial: optuna.Trial, store: ArtifactStore) -> StoredWeights | None:
        """Upload the kept weights as ``trial``'s artifact. None when no epoch was validated, or
        when the upload failed (one warning line: the trial's result stands without them)."""
        if self.weights is None:
            return None
        current = self.target.get_weights()
        try:
            with tempfile.TemporaryDirectory(prefix="hpo-weights-") as tmp:
                path = Path(tmp) / f"trial-{trial.number}.weights.h5"
                self.target.set_weights(self.weights)
                self.target.save_weights(path)
                return upload_weights(trial, store, path, self.epoch)
        except Exception as exc:  # a full disk, a bucket that refuses: the search goes on
            log.warning("trial %d: weights not stored (%s: %s)", trial.number, type(exc).__name__, exc)
            return None
        finally:
            self.target.set_weights(current)
