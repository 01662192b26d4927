"""Retrain a trial's network on train+val with the exact search-space code.

``build_candidate(FixedTrial(trial.params), ...)`` rebuilds the candidate the trial saw (its
own CNN, a backbone, or a user's builder alike), and `hpo.study.train.fit` trains it as the trial
was trained; the epoch count is the one at which the trial's val accuracy peaked (or
``--epochs``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import keras
import optuna
from optuna.trial import FixedTrial, FrozenTrial, TrialState

from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import HpoError
from hpo.model.builders import Builder, family_name
from hpo.model.cnn import inference_accuracy
from hpo.model.families import Candidate, build_candidate
from hpo.records.trial import TrialRecord
from hpo.study.study import best_by_accuracy, pareto_front
from hpo.study.train import fit

__all__ = ["Retrained", "pick_trial", "rebuild", "retrain"]


@dataclass
class Retrained:
    model: keras.Model
    params: dict[str, Any]  # the candidate as the model family resolved it
    trial: FrozenTrial
    epochs: int
    seconds: float
    train_accuracy: float  # on the splits it was trained on (train+val; train only from_trial), inference mode
    family: str = "cnn"  # [model] family, or the builder's "module:function"
    from_trial: bool = False  # the trial's own weights (`hpo.savedmodel.from_trial`), not retrained
    members: tuple[int, ...] = ()  # an ensemble's trials (`hpo.savedmodel.ensemble`), ``trial`` the first
    ensemble_val_accuracy: float | None = None  # the ensemble's val accuracy, which chose its members


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


def rebuild(
    config: StudyConfig,
    data: PreparedData,
    trial: FrozenTrial,
    splits: tuple[str, ...],
    epochs: int,
    build: Builder | None = None,
) -> Candidate:
    """``trial``'s candidate built again from its params (untrained), for ``epochs`` over ``splits``."""
    return build_candidate(
        FixedTrial(trial.params),
        config,
        num_classes=data.num_classes,
        image_size=data.image_size,
        train_size=len(data.indices(*splits)),
        epochs=epochs,
        build=build,
    )


def retrain(
    config: StudyConfig,
    data: PreparedData,
    trial: FrozenTrial,
    epochs: int | None = None,
    progress: bool = True,
    build: Builder | None = None,
) -> Retrained:
    """Train ``trial``'s network from scratch on train+val (no early stopping: the epoch
    count is fixed), seeded like the trial (``[study] seed`` + its number)."""
    n_epochs = epochs or TrialRecord.of(trial).best_epoch or config.training.max_epochs
    if n_epochs < 1:
        raise HpoError(f"--epochs must be at least 1, got {n_epochs}")
    splits = ("train", "val")
    candidate = rebuild(config, data, trial, splits, n_epochs, build)
    t0 = time.perf_counter()
    fit(
        candidate,
        data,
        splits,
        epochs=n_epochs,
        seed=config.study.seed + trial.number,
        validation=None,
        bn_calibration_images=config.training.bn_calibration_images,
        verbose="auto" if progress and sys.stdout.isatty() else 0,
    )
    seconds = time.perf_counter() - t0
    train_accuracy = inference_accuracy(candidate.model, *data.arrays(*splits))
    family = family_name(config, build)
    return Retrained(candidate.model, candidate.params, trial, n_epochs, seconds, train_accuracy, family)
