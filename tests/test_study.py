from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpo.config import load_config
from hpo.study import baseline_trial, make_pruner, open_study
from tests.studyfiles import write_study


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
