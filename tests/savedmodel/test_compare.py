"""`hpo compare`, and the search beating a deliberately bad fixed configuration (the
machinery at small scale; the real numbers are in BENCHMARKS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

pytestmark = pytest.mark.slow


def test_searched_export_beats_a_bad_fixed_configuration(
    searched: dict[str, Path], synth_dir: Path, tmp_path: Path
) -> None:
    # lr 1e-7: the network cannot move off its initialization in a few epochs
    bad = write_study(
        tmp_path,
        "bad",
        synth_dir,
        study={"n_trials": 1, "enqueue_baseline": False},
        search={"learning_rate": 1e-7, "optimizer": "adam", "augment": 0.0, "dropout": 0.0},
        training={"max_epochs": 2},
    )
    assert run_hpo("search", bad, "--no-progress").returncode == 0
    assert run_hpo("export", bad, "--out", tmp_path / "bad-model", "--no-progress").returncode == 0
    proc = run_hpo("compare", searched["out"], tmp_path / "bad-model", "--json")
    assert proc.returncode == 0, proc.stderr
    good, poor = json.loads(proc.stdout)
    assert good["test_accuracy"] > poor["test_accuracy"], (good, poor)
    assert good["latency_ms"] > 0 and good["param_count"] > 0
    text = run_hpo("compare", searched["out"], tmp_path / "bad-model")
    assert "points test accuracy" in text.stdout


def test_compare_needs_export_folders(tmp_path: Path) -> None:
    assert_user_error(run_hpo("compare", tmp_path), "metrics.json is missing")
