"""Retrain a trial's network on train+val with the exact search-space code.

``suggest(FixedTrial(trial.params), space)`` rebuilds the `CNNParams` the trial saw; the
epoch count is the one at which the trial's val accuracy peaked (or ``--epochs``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import keras
import optuna
from optuna.trial import FixedTrial, FrozenTrial, TrialState

from hpo.batchnorm import BatchNormCalibrator, recalibration_sample
from hpo.config import StudyConfig
from hpo.data.pipeline import make_dataset
from hpo.data.prepared import PreparedData
from hpo.errors import HpoError
from hpo.model import build_cnn, compile_cnn, inference_accuracy, with_augmentation
from hpo.search_space import CNNParams, suggest
from hpo.study import best_by_accuracy, pareto_front

__all__ = ["Retrained", "pick_trial", "retrain"]


@dataclass
class Retrained:
    model: keras.Model
    params: CNNParams
    trial: FrozenTrial
    epochs: int
    seconds: float
    train_accuracy: float  # on train+val, inference mode
    family: str = "cnn"  # [model] family, or the builder's "module:function"


def pick_trial(study: optuna.Study, number: int | None, max_cost: float | None = None) -> FrozenTrial:
    """Trial ``number`` (complete or pruned); else the most accurate complete trial — in a
    multi-objective study, the most accurate one on the Pareto front whose cost (latency or
    params) is at most ``max_cost``."""
    trials = study.get_trials(deepcopy=False)
    if number is None:
        best = best_by_accuracy(trials)
        if best is None:
            raise HpoError(f"study '{study.study_name}' has no complete trial yet — run `hpo search` first")
        if len(study.directions) == 1:
            return best
        front = [t for t in pareto_front(study) if max_cost is None or t.values[1] <= max_cost]
        if not front:
            cheapest = min(t.values[1] for t in pareto_front(study))
            raise HpoError(f"no trial on the Pareto front costs at most {max_cost:g} (cheapest: {cheapest:.4g})")
        return front[0]
    match = [t for t in trials if t.number == number]
    if not match:
        raise HpoError(f"study '{study.study_name}' has no trial {number} (trials 0..{len(trials) - 1})")
    if match[0].state not in (TrialState.COMPLETE, TrialState.PRUNED):
        raise HpoError(f"trial {number} is {match[0].state.name}; export a complete or pruned trial")
    return match[0]


def retrain(
    config: StudyConfig,
    data: PreparedData,
    trial: FrozenTrial,
    epochs: int | None = None,
    progress: bool = True,
) -> Retrained:
    """Train ``trial``'s network from scratch on train+val (no early stopping: the epoch
    count is fixed), seeded like the trial."""
    params = suggest(FixedTrial(trial.params), config.search)
    n_epochs = epochs or int(trial.user_attrs.get("best_epoch") or config.training.max_epochs)
    if n_epochs < 1:
        raise HpoError(f"--epochs must be at least 1, got {n_epochs}")
    keras.utils.set_random_seed(config.study.seed + trial.number)
    train = make_dataset(data, ("train", "val"), params.batch_size, shuffle=True, seed=config.study.seed)
    steps = math.ceil(len(data.indices("train", "val")) / params.batch_size)
    model = build_cnn(params, data.num_classes, data.image_size)
    trainer = compile_cnn(with_augmentation(model, params), params, steps, n_epochs)
    verbose = "auto" if progress and sys.stdout.isatty() else 0
    t0 = time.perf_counter()
    trainer.fit(train, epochs=n_epochs, verbose=verbose, shuffle=False)
    if n_calibration := config.training.bn_calibration_images:  # statistics for the final weights, as in the trial
        BatchNormCalibrator(model)(recalibration_sample(data, ("train", "val"), n_calibration, config.study.seed))
    seconds = time.perf_counter() - t0
    train_accuracy = inference_accuracy(model, *data.arrays("train", "val"))
    return Retrained(model, params, trial, n_epochs, seconds, train_accuracy)
