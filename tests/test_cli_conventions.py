"""What users of Optuna/KerasTuner expect of a CLI: `hpo check` before hours are spent, shell
completion, `hpo search --json`, `--log-file` and HPO_LOG_LEVEL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PG_URL, run_hpo
from tests.helpers.studyfiles import write_study


@pytest.fixture
def good(tmp_path: Path, synth_dir: Path) -> Path:
    return write_study(tmp_path, "good", synth_dir)


def test_check_passes_a_good_study_in_seconds(good: Path) -> None:
    proc = run_hpo("check", good, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == f"ok: study file {good}: study 'good', 6 trials"
    assert any(x.startswith("ok: dataset ") and "4 classes, 80 images" in x for x in lines)
    assert any(x.startswith("ok: storage sqlite:///") and "created by the first search" in x for x in lines)
    assert any(x.startswith("ok: TensorFlow (tensorflow") for x in lines)
    assert lines[-1] == f"{good} is ready: hpo search {good}"
    assert not (good.parent / "good.db").exists() and not (good.parent / "good").exists()  # wrote nothing


def _broken(tmp_path: Path, synth_dir: Path, case: str) -> tuple[Path, str]:
    """A study file broken in one way, and what its one error line must name."""
    if case == "unknown key":
        return write_study(tmp_path, "s", synth_dir, training={"max_epoch": 3}), "max_epoch"
    if case == "toml syntax":
        path = tmp_path / "s.toml"
        path.write_text("[study]\nname = 's\n")
        return path, str(path)
    if case == "missing data":
        return write_study(tmp_path, "s", tmp_path / "nowhere"), "dataset folder not found"
    if case == "one class":
        one = tmp_path / "one"
        shutil.copytree(next(p for p in synth_dir.iterdir() if p.is_dir()), one / "only")
        return write_study(tmp_path, "s", one), "1 class folder"
    if case == "storage down":  # a Postgres port where nothing listens
        return write_study(tmp_path, "s", synth_dir, study={"storage": "postgresql://u@127.0.0.1:9/x"}), "storage"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["unknown key", "toml syntax", "missing data", "one class", "storage down"])
def test_check_names_each_problem_in_one_line(tmp_path: Path, synth_dir: Path, case: str) -> None:
    study, fragment = _broken(tmp_path, synth_dir, case)
    proc = run_hpo("check", study, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()  # one problem, one line, no traceback
    assert line.startswith("hpo: error: ") and fragment in line, line


def test_check_lists_every_problem_it_finds(tmp_path: Path) -> None:
    study = write_study(tmp_path, "s", tmp_path / "nowhere", study={"storage": "sqlite:////nonexistent-dir/s.db"})
    proc = run_hpo("check", study, timeout=60)
    assert proc.returncode == 2
    errors = proc.stderr.splitlines()
    assert len(errors) == 2 and "dataset folder not found" in errors[0] and "/nonexistent-dir" in errors[1], errors


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_script_names_the_commands_and_their_options(shell: str) -> None:
    proc = run_hpo("completion", shell)
    assert proc.returncode == 0, proc.stderr
    words = ("search", "check", "export") + (("--n-trials", "--log-file") if shell != "tcsh" else ())
    for word in words:  # shtab's tcsh script completes the commands only
        assert word in proc.stdout, (shell, word)
    if shell == "bash":
        checked = subprocess.run(["bash", "-n"], input=proc.stdout, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr  # the script parses


def test_log_level_from_the_environment_and_a_log_file(tmp_path: Path) -> None:
    log = tmp_path / "hpo.log"
    url = PG_URL.replace(PG_URL.rsplit("@", 1)[1], "127.0.0.1:9/x")  # a password-bearing URL, unreachable
    proc = run_hpo("--log-file", log, "db", "check", url, env={"HPO_LOG_LEVEL": "debug"}, timeout=60)
    assert proc.returncode != 0 and log.exists()
    bad = run_hpo("trials", "x.toml", env={"HPO_LOG_LEVEL": "loud"})
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "hpo: error: HPO_LOG_LEVEL='LOUD': use one of DEBUG, INFO, WARNING, ERROR"
    )
    nowhere = run_hpo("--log-file", tmp_path / "no" / "dir.log", "trials", "x.toml")
    assert nowhere.returncode == 2 and "--log-file" in nowhere.stderr and "Traceback" not in nowhere.stderr


def test_search_json_is_the_final_result_alone_on_stdout(tmp_path: Path, synth_dir: Path) -> None:
    study = write_study(
        tmp_path,
        "j",
        synth_dir,
        study={"n_trials": 1, "enqueue_baseline": False},
        search={"depth": 1, "base_filters": 8, "dense_units": 32, "batch_size": 32},
        training={"max_epochs": 1},
    )
    proc = run_hpo("search", study, "--json", "--no-progress", timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # nothing else on stdout
    assert result["exit_status"] == 0 and result["wall_s"] > 0
    assert "Searching study j" in proc.stderr  # the progress lines went to stderr
    assert result["study"] == "j" and result["finished"] == result["cap"] == 1 and result["counts"]["complete"] == 1
    assert result["best"]["number"] == 0 and 0 <= result["best"]["val_accuracy"] <= 1


def test_help_lists_the_new_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "hpo", "--help"], capture_output=True, text=True)
    assert "hpo check studies/mydata.toml" in proc.stdout and "hpo completion bash" in proc.stdout
