"""`hpo trials --state/--sort/--limit/--json` and `hpo best --json` on a real SQLite study."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study


def _toml(tmp_path: Path) -> Path:
    """Six trials: values 0.1..0.5 complete (trial 3 the best, 0.9), one pruned after 2 epochs."""
    db = f"sqlite:///{tmp_path / 'trials.db'}"
    toml = write_study(tmp_path, "listing", tmp_path, study={"storage": db, "enqueue_baseline": False})
    study = optuna.create_study(study_name="listing", storage=db, direction="maximize")
    dist = {"learning_rate": FloatDistribution(1e-4, 1e-1, log=True)}
    for i, value in enumerate([0.1, 0.2, 0.3, 0.9, 0.5, None]):
        study.add_trial(
            create_trial(
                state=TrialState.PRUNED if value is None else TrialState.COMPLETE,
                params={"learning_rate": 10 ** -(1 + i / 2)},
                distributions=dist,
                value=value,
                intermediate_values={0: 0.05, 1: 0.4} if value is None else {e: value for e in range(3)},
            )
        )
    return toml


def test_trials_json_lines_pick_sort_and_limit(tmp_path: Path) -> None:
    toml = _toml(tmp_path)
    proc = run_hpo("trials", toml, "--json")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and [r["number"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert rows[5]["state"] == "PRUNED" and rows[5]["epochs"] == 2 and rows[3]["val_accuracy"] == 0.9

    proc = run_hpo("trials", toml, "--json", "--state", "complete", "--sort", "val_accuracy", "--limit", "2")
    assert [json.loads(line)["number"] for line in proc.stdout.splitlines()] == [3, 4]
    proc = run_hpo("trials", toml, "--state", "pruned,fail")
    assert proc.returncode == 0 and [ln.split()[1] for ln in proc.stdout.splitlines()[1:]] == ["PRUNED"]
    proc = run_hpo("trials", toml, "--sort", "epochs", "--limit", "1", "--json")
    assert json.loads(proc.stdout)["number"] == 0  # 3 epochs, the earliest of the ties

    best = run_hpo("best", toml, "--json")
    assert len(best.stdout.splitlines()) == 1 and json.loads(best.stdout)["best"]["number"] == 3


def test_trials_bad_options_are_one_line(tmp_path: Path) -> None:
    toml = _toml(tmp_path)
    assert_user_error(run_hpo("trials", toml, "--state", "done"), "--state 'done'", "complete")
    assert_user_error(run_hpo("trials", toml, "--sort", "lr"), "--sort 'lr'", "val_accuracy")
    assert_user_error(run_hpo("trials", toml, "--limit", "0"), "--limit must be at least 1, got 0")


def test_the_sql_reader_reads_what_optuna_reads(tmp_path: Path) -> None:
    from hpo.config import load_config
    from hpo.report.rows import read_trials

    cfg = load_config(_toml(tmp_path))
    study = optuna.load_study(study_name="listing", storage=cfg.study.storage)
    study.set_user_attr("x", 1)
    trial = study.ask()
    trial.set_user_attr("note", {"a": [1, 2]})
    study.tell(trial, float("inf"))
    fields = ("number", "state", "values", "params", "distributions", "intermediate_values", "user_attrs",
              "datetime_start", "datetime_complete", "constraints")  # fmt: skip
    ours, theirs = read_trials(study), study.get_trials(deepcopy=False)
    assert [[getattr(t, f) for f in fields] for t in ours] == [[getattr(t, f) for f in fields] for t in theirs]
    assert [t.number for t in read_trials(study, (TrialState.PRUNED,))] == [5]
