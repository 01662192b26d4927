"""A real search on tiny synthetic data, real SQLite file, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import FixedTrial, TrialState

from hpo.config import load_config
from hpo.model.space import BASELINE, CNNParams, baseline_trial_params, suggest
from hpo.records.trial import TrialRecord
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study


def _study(path: Path) -> optuna.Study:
    cfg = load_config(path)
    return optuna.load_study(study_name=cfg.study.name, storage=cfg.study.storage)


@pytest.mark.slow
def test_search_prunes_marks_baseline_resumes_and_replays(synth_dir: Path, tmp_path: Path) -> None:
    # bootstrap_count 1 prunes the first trial to reach each rung of a bracket, whatever its
    # value: the baseline (trial 0) would be first in its bracket, but it is never pruned
    toml = write_study(
        tmp_path, "tiny", synth_dir, study={"n_trials": 8}, training={"max_epochs": 9}, pruner={"bootstrap_count": 1}
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tiny.db").is_file()  # default storage: next to the study file
    assert "Baseline (trial 0" in proc.stdout and "Best params:" in proc.stdout
    assert proc.stdout.count("\ntrial ") + proc.stdout.startswith("trial ") >= 8

    study = _study(toml)
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 8
    assert any(t.state == TrialState.PRUNED for t in trials), "Hyperband pruned nothing"
    assert study.metric_names == ["val_accuracy"]

    first = trials[0]
    cfg = load_config(toml)
    assert first.user_attrs["baseline"] is True
    assert first.params == baseline_trial_params(cfg.search)
    record = TrialRecord.of(first)
    assert CNNParams(**first.user_attrs["model_params"]) == BASELINE and record.family == "cnn"
    for key in (
        "param_count",
        "best_epoch",
        "train_accuracy",
        "val_loss",
        "seconds_per_epoch",
        "train_val_gap",
    ):
        assert key in first.user_attrs, key
    assert len(first.intermediate_values) == first.user_attrs["epochs_run"] == 9
    assert first.state == TrialState.COMPLETE
    assert not any(k.startswith("completed_rung") for k in first.system_attrs)  # never competed in a rung

    # the retrain path: the same search-space code replays the best trial's params exactly
    best = study.best_trial
    assert suggest(FixedTrial(best.params), cfg.search) == CNNParams(**(TrialRecord.of(best).model_params or {}))

    # resume: numbers continue, the new cap holds, and a finished study runs nothing more
    assert run_hpo("search", toml, "--n-trials", "10", "--no-progress").returncode == 0
    numbers = [t.number for t in _study(toml).get_trials()]
    assert numbers == list(range(len(numbers)))
    finished_after = [t for t in _study(toml).get_trials() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished_after) == 10
    again = run_hpo("search", toml, "--n-trials", "10", "--no-progress")
    assert again.returncode == 0 and len(_study(toml).get_trials()) == len(numbers)
    assert sum(t.user_attrs.get("baseline", False) for t in _study(toml).get_trials()) == 1

    table = run_hpo("trials", toml)
    assert table.returncode == 0 and "[baseline]" in table.stdout and "PRUNED" in table.stdout
    best_json = json.loads(run_hpo("best", toml, "--json").stdout)
    assert best_json["best"]["number"] == _study(toml).best_trial.number
    assert best_json["finished"] == 10 and best_json["baseline"]["number"] == 0


@pytest.mark.slow
def test_diverging_trials_fail_with_reason_and_stop_cleanly(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(
        tmp_path,
        "diverge",
        synth_dir,
        study={"n_trials": 3, "enqueue_baseline": False},
        search={
            "learning_rate": 10.0,
            "optimizer": "sgd",
            "batch_norm": False,
            "l1": 0,
            "l2": 10.0,
        },
        training={"max_epochs": 3},
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert_user_error(proc, "trials failed in a row", "loss became NaN", str(toml), sole=False)
    trials = _study(toml).get_trials()
    assert trials and all(t.state == TrialState.FAIL for t in trials)
    assert all("NaN" in t.user_attrs["fail_reason"] for t in trials)


def test_unknown_study_lists_the_existing_ones(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(tmp_path, "nothing-yet", synth_dir)
    optuna.create_study(study_name="other", storage=f"sqlite:///{tmp_path / 'nothing-yet.db'}")
    assert_user_error(run_hpo("best", toml), "no study 'nothing-yet'", "studies there: other")


@pytest.mark.slow
def test_gap_limit_is_an_optuna_constraint_that_best_respects(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(
        tmp_path,
        "gap",
        synth_dir,
        study={"n_trials": 5, "max_train_val_gap": 0.05},
        pruner={"type": "none"},
        training={"max_epochs": 3},
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "[gap " in proc.stdout and "Gap limit 0.05:" in proc.stdout
    complete = [t for t in _study(toml).get_trials() if t.state == TrialState.COMPLETE]
    assert len(complete) == 5
    for t in complete:
        # train accuracy in inference mode on the train split, minus the val accuracy of the kept weights
        assert 0.0 <= t.user_attrs["train_accuracy"] <= 1.0
        last = t.intermediate_values[max(t.intermediate_values)]
        assert t.user_attrs["train_val_gap"] == pytest.approx(t.user_attrs["train_accuracy"] - last)
        assert t.constraints == {"train_val_gap": pytest.approx(t.user_attrs["train_val_gap"] - 0.05)}
    best = json.loads(run_hpo("best", toml, "--json").stdout)["best"]
    feasible = [t for t in complete if t.user_attrs["train_val_gap"] <= 0.05]
    if feasible:  # Optuna's own best_trial also skips infeasible trials: both must agree
        assert best["number"] == _study(toml).best_trial.number
        assert best["number"] == max(feasible, key=lambda t: t.value or 0.0).number
    else:
        assert best["number"] == max(complete, key=lambda t: t.value or 0.0).number
        assert "none, so the best is over the limit" in proc.stdout
