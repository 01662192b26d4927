from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpo.config import load_config
from hpo.study.study import baseline_trial, best_by_accuracy, feasible, make_pruner, open_study
from tests.helpers.studyfiles import write_study


def test_new_study_gets_the_baseline_once(tmp_path: Path) -> None:
    cfg = load_config(write_study(tmp_path, "s", tmp_path))
    study = open_study(cfg)
    again = open_study(cfg)  # a second worker or a restart
    waiting = again.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].user_attrs["baseline"] is True
    assert baseline_trial(study) is not None
    assert study.metric_names == ["val_accuracy"]
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_baseline_can_be_turned_off(tmp_path: Path) -> None:
    cfg = load_config(write_study(tmp_path, "s", tmp_path, study={"enqueue_baseline": False}))
    assert open_study(cfg).get_trials() == []


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("hyperband", optuna.pruners.HyperbandPruner),
        ("successive_halving", optuna.pruners.SuccessiveHalvingPruner),
        ("median", optuna.pruners.MedianPruner),
        ("none", optuna.pruners.NopPruner),
    ],
)
def test_pruner_from_config(tmp_path: Path, kind: str, cls: type) -> None:
    cfg = load_config(write_study(tmp_path, "s", tmp_path, pruner={"type": kind}))
    assert isinstance(make_pruner(cfg), cls)


def test_best_by_accuracy_prefers_feasible_trials() -> None:
    study = optuna.create_study(direction="maximize")
    for value, gap in ((0.9, 0.2), (0.7, -0.01), (0.8, 0.0), (0.95, None)):
        trial = study.ask()
        if gap is not None:
            trial.set_constraint("train_val_gap", gap)
        study.tell(trial, value)
    trials = study.get_trials()
    assert [feasible(t) for t in trials] == [False, True, True, True]
    assert best_by_accuracy(trials[:3]).number == study_best(trials[:3]) == 2  # 0.8: the best feasible
    assert best_by_accuracy(trials).number == 3  # no constraint recorded counts as feasible
    assert best_by_accuracy(trials[:1]).number == 0  # nothing feasible: the most accurate


def study_best(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Optuna's own constrained best_trial over ``trials``."""
    study = optuna.create_study(direction="maximize")
    study.add_trials(trials)
    return study.best_trial.number
