"""[sampler] startup = "local": start-up trials vary the best trial so far instead of drawing at random."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from hpo.study.local import LocalStartSampler
from hpo.study.study import local_startup, make_sampler
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

PRESET = {"optimizer": "rmsprop", "lr": 1e-3, "depth": 2, "width": 32, "dropout": 0.5}


class Recording(optuna.samplers.RandomSampler):
    """The base sampler: random, and it says which trials it was asked for."""

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.asked: set[int] = set()

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        self.asked.add(trial.number)
        return super().sample_independent(study, trial, param_name, param_distribution)


def _objective(trial: optuna.Trial) -> float:
    params = {
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "adamw", "rmsprop"]),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "depth": trial.suggest_int("depth", 2, 3),
        "width": trial.suggest_categorical("width", [16, 24, 32]),
        "dropout": trial.suggest_float("dropout", 0.1, 0.5, step=0.05),
    }
    if params["optimizer"] == "adamw":
        assert 1e-3 <= trial.suggest_float("weight_decay", 1e-3, 1e-1, log=True) <= 1e-1
    return 1.0 if params == PRESET else 0.5  # the preset stays the best: every start-up trial varies it


def _study(sampler: optuna.samplers.BaseSampler, **kwargs: Any) -> optuna.Study:
    study = optuna.create_study(sampler=sampler, **kwargs)
    study.enqueue_trial(PRESET)
    return study


def test_start_up_trials_change_one_to_three_dimensions_of_the_best() -> None:
    base = Recording()
    study = _study(LocalStartSampler(base, n_local=12, seed=0), direction="maximize")
    study.optimize(_objective, n_trials=1 + 12 + 3)
    local = study.trials[1:13]
    for trial in local:
        changed = {k for k in PRESET if trial.params[k] != PRESET[k]}
        assert 1 <= len(changed) <= 3, (trial.params, changed)
        extra = set(trial.params) - set(PRESET)
        assert extra <= {"weight_decay"} and bool(extra) == (trial.params["optimizer"] == "adamw")
    assert {k for t in local for k in PRESET if t.params[k] != PRESET[k]} == set(PRESET)  # each dimension moved
    assert base.asked == {13, 14, 15}  # then the base sampler, for every trial after the start-up


def test_a_better_trial_becomes_the_centre() -> None:
    better = {**PRESET, "width": 16}

    def objective(trial: optuna.Trial) -> float:
        value = _objective(trial)
        return 2.0 if trial.params == better else value

    study = _study(LocalStartSampler(Recording(), n_local=6, seed=3), direction="maximize")
    study.enqueue_trial(better)
    study.optimize(objective, n_trials=8)
    assert study.best_trial.number == 1
    for trial in study.trials[2:]:
        assert 1 <= sum(trial.params[k] != v for k, v in better.items()) <= 3, trial.params


def test_minimizing_studies_take_the_lowest_and_multi_objective_ones_the_base() -> None:
    study = _study(LocalStartSampler(Recording(), n_local=4, seed=0), direction="minimize")
    study.optimize(lambda t: -_objective(t), n_trials=5)
    assert all(1 <= sum(t.params[k] != v for k, v in PRESET.items()) <= 3 for t in study.trials[1:])
    base = Recording()
    pareto = _study(LocalStartSampler(base, n_local=4, seed=0), directions=["maximize", "minimize"])
    pareto.optimize(lambda t: (_objective(t), 0.0), n_trials=3)
    assert base.asked == {1, 2}


def test_without_a_finished_trial_the_base_sampler_starts() -> None:
    base = Recording()
    study = optuna.create_study(sampler=LocalStartSampler(base, n_local=3, seed=0), direction="maximize")
    study.optimize(_objective, n_trials=1)
    assert base.asked == {0}


def test_the_study_file_chooses_it(synth_dir: Any, tmp_path: Any) -> None:
    from hpo.config import load_config

    toml = write_study(tmp_path, "local", synth_dir, sampler={"startup": "local", "n_startup_trials": 6})
    sampler = make_sampler(load_config(toml))
    assert isinstance(sampler, LocalStartSampler)
    plain = make_sampler(load_config(write_study(tmp_path, "plain", synth_dir)))
    assert isinstance(plain, optuna.samplers.TPESampler)  # "auto", and no preset: the baseline alone
    random = write_study(tmp_path, "random", synth_dir, sampler={"startup": "random"})
    preset = replace(load_config(random), study=replace(load_config(random).study, enqueue=({"dropout": 0.3},)))
    assert isinstance(make_sampler(preset), optuna.samplers.TPESampler)  # asked for: random even with a preset


def test_auto_starts_near_the_presets_where_a_study_has_them(synth_dir: Any, tmp_path: Any) -> None:
    from hpo.config import load_config

    config = load_config(write_study(tmp_path, "auto", synth_dir))
    assert config.sampler.startup == "auto" and not local_startup(config)
    with_preset = replace(config, study=replace(config.study, enqueue=({"dropout": 0.3},)))
    assert local_startup(with_preset) and isinstance(make_sampler(with_preset), LocalStartSampler)


@pytest.mark.parametrize("value", ["nearby", 1])
def test_a_wrong_startup_is_one_line(synth_dir: Any, tmp_path: Any, value: object) -> None:
    toml = write_study(tmp_path, "bad", synth_dir, sampler={"startup": value})
    assert_user_error(run_hpo("search", toml), "startup")
