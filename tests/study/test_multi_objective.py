"""Accuracy vs. cost: real two-objective searches, Pareto front, bounded export, report."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import optuna
import pytest

from hpo.config import load_config
from hpo.records.export import ExportMetrics
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

pytestmark = pytest.mark.slow


def _pareto_study(tmp_path: Path, synth_dir: Path, name: str, cost: str, n_trials: int) -> Path:
    toml = write_study(
        tmp_path,
        name,
        synth_dir,
        study={"n_trials": n_trials, "objectives": ["val_accuracy", cost]},
        # sizes from tiny to large so accuracy and cost trade off
        search={"base_filters": [2, 32], "dense_units": [4, 128], "depth": [1, 2]},
        pruner={"type": "none"},
        training={"max_epochs": 4, "early_stopping_patience": 2},
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"Pareto front (val_accuracy up, {cost} down)" in proc.stdout
    return toml


def _study(toml: Path) -> optuna.Study:
    cfg = load_config(toml)
    return optuna.load_study(study_name=cfg.study.name, storage=cfg.study.storage)


def test_pareto_front_bounded_export_and_report(synth_dir: Path, tmp_path: Path) -> None:
    toml = _pareto_study(tmp_path, synth_dir, "by-params", "params", 8)
    study = _study(toml)
    assert study.metric_names == ["val_accuracy", "params"]
    front = study.best_trials
    assert len(front) >= 2, [t.values for t in study.get_trials()]
    assert all(t.user_attrs["val_accuracy_curve"] for t in front)  # curves kept without pruning
    best = json.loads(run_hpo("best", toml, "--json").stdout)
    assert sorted(r["number"] for r in best["pareto_front"]) == sorted(t.number for t in front)

    bound = statistics.median(t.values[1] for t in front)
    expected = max((t for t in front if t.values[1] <= bound), key=lambda t: t.values[0])
    out = tmp_path / "small-model"
    proc = run_hpo("export", toml, "--max-params", str(int(bound)), "--out", out, "--epochs", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    metrics = ExportMetrics.load(out)
    assert metrics.trial == expected.number and metrics.param_count <= bound

    report = tmp_path / "report.html"
    assert run_hpo("report", toml, "--out", report).returncode == 0
    page = report.read_text()
    assert "<h2>Pareto front</h2>" in page and "baseline (trial 0)" in page
    assert "Not drawn" not in page.split("<h2>Hyperparameter importances</h2>")[0]  # history and curves drawn


def test_latency_objective_and_its_bound(synth_dir: Path, tmp_path: Path) -> None:
    toml = _pareto_study(tmp_path, synth_dir, "by-latency", "latency_ms", 4)
    study = _study(toml)
    front = study.best_trials
    assert all(t.values[1] > 0 and t.values[1] == t.user_attrs["latency_ms"] for t in front)
    # a bound above every trial picks the most accurate; one below every trial is an error
    loose = max(t.values[1] for t in front) * 2
    out = tmp_path / "fast-model"
    proc = run_hpo("export", toml, "--max-latency-ms", str(loose), "--out", out, "--epochs", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    most_accurate = max(front, key=lambda t: t.values[0])
    assert ExportMetrics.load(out).trial == most_accurate.number
    assert_user_error(run_hpo("export", toml, "--max-latency-ms", "1e-9"), "no trial on the Pareto front", sole=False)
    assert_user_error(run_hpo("export", toml, "--max-params", "1000"), "--max-params needs a study with objectives")
