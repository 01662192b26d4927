"""Parallel workers on the real Postgres and on a shared SQLite file: caps, SIGKILL chaos,
SIGTERM, one process per GPU."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.errors import HpoError
from hpo.workers.launcher import plan_workers
from tests.helpers import ROOT, run_hpo
from tests.helpers.studyfiles import write_study
from tests.helpers.workerkit import (
    FINISHED,
    assert_complete_study,
    start_worker,
    trials_of,
    wait_for,
    wait_mid_trial,
)


def test_cpu_workers_split_the_cores() -> None:
    plans = plan_workers(3, [], cores=16)
    assert [p.threads for p in plans] == [5, 5, 5] and all(p.env()["CUDA_VISIBLE_DEVICES"] == "" for p in plans)
    gpu_plans = plan_workers(3, ["0", "1", "0"])  # a GPU named twice is shared on purpose
    assert [p.env()["CUDA_VISIBLE_DEVICES"] for p in gpu_plans] == ["0", "1", "0"]
    with pytest.raises(HpoError, match="--workers 3 but 2 GPU"):
        plan_workers(3, ["0", "1"])


def _fake_nvidia_smi(folder: Path, gpus: int) -> dict[str, str]:
    """An ``nvidia-smi`` on PATH that lists ``gpus`` GPUs, as the launcher queries it."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\n[ "$1" = "--query-gpu=index" ] && seq 0 {gpus - 1}\n')
    smi.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.slow
def test_four_gpu_workers_share_the_default_sqlite_file(synth_dir: Path, tmp_path: Path) -> None:
    """`--workers 4` with 4 (fake) GPUs on the embedded default: each worker process sees
    exactly one distinct GPU, and 12 short trials end with an exact cap, nothing RUNNING and
    no "database is locked"."""
    toml = write_study(
        tmp_path,
        "shared",
        synth_dir,
        study={"n_trials": 12, "heartbeat_interval": 1, "grace_period": 5},
        training={"max_epochs": 1, "bn_calibration_images": 0},  # short trials: the storage is under test
    )
    env = _fake_nvidia_smi(tmp_path / "bin", 4)
    proc = run_hpo("search", toml, "--workers", "4", "--no-progress", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Launching 4 workers (GPUs 0, 1, 2, 3)" in out
    assert "locked" not in out.lower() and "Traceback" not in out
    trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{tmp_path / 'shared.db'}").get_trials()
    assert_complete_study(trials, 12)
    seen = {str(t.user_attrs["worker"]).split("@")[0]: t.user_attrs["cuda_visible_devices"] for t in trials}
    assert seen == {"w0": "0", "w1": "1", "w2": "2", "w3": "3"}, seen
    assert "12/12 trials finished" in out


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_finish_exactly_the_cap(pg_study: Callable[..., Path], pg_url: str) -> None:
    toml = pg_study(n_trials=9)
    proc = run_hpo("search", toml, "--workers", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for w in ("[w0]", "[w1]", "[w2]"):
        assert f"{w} worker " in proc.stdout
    assert "9/9 trials finished" in proc.stdout
    assert "postgresql://postgres@" in proc.stdout  # no password here, but the URL is shown masked
    trials = trials_of(toml, pg_url)
    assert_complete_study(trials, 9)
    workers = {str(t.user_attrs["worker"]).split("@")[0] for t in trials}
    assert workers == {"w0", "w1", "w2"}


def _kill_mid_trial_then_resume(toml: Path, url: str, cap: int = 3) -> None:
    """SIGKILL a worker mid-trial; a new worker fails the stale trial, retries its params once
    and finishes the study's cap."""
    victim = start_worker(toml, "victim")
    killed = wait_mid_trial(toml, url, "victim")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    survivor = start_worker(toml, "survivor")
    out, _ = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, out

    trials = trials_of(toml, url)
    assert_complete_study(trials, cap)
    assert trials[killed.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1, [t.system_attrs for t in trials]
    retry = retries[0]
    assert retry.state in FINISHED and retry.params == killed.params
    assert retry.user_attrs["retry_of"] == killed.number and retry.user_attrs["worker"].startswith("survivor@")
    assert f"[retry of #{killed.number}]" in out


@pytest.mark.postgres
@pytest.mark.slow
def test_sigkilled_worker_trial_is_failed_and_retried(pg_study: Callable[..., Path], pg_url: str) -> None:
    _kill_mid_trial_then_resume(pg_study(n_trials=3), pg_url)


@pytest.mark.slow
def test_sigkilled_worker_on_sqlite_is_retried_too(synth_dir: Path, tmp_path: Path) -> None:
    study = {"n_trials": 3, "heartbeat_interval": 1, "grace_period": 4}
    toml = write_study(tmp_path, "killed", synth_dir, study=study, training={"max_epochs": 5})
    _kill_mid_trial_then_resume(toml, f"sqlite:///{tmp_path / 'killed.db'}")


@pytest.mark.postgres
@pytest.mark.slow
def test_sigterm_stops_cleanly_and_requeues(pg_study: Callable[..., Path], pg_url: str) -> None:
    toml = pg_study(n_trials=50)
    worker = start_worker(toml, "term")
    interrupted = wait_mid_trial(toml, pg_url, "term")
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 143, out
    assert "stopped by signal" in out and "Traceback" not in out
    trials = trials_of(toml, pg_url)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = trials[interrupted.number]
    assert failed.state == TrialState.FAIL and "interrupted" in failed.user_attrs["fail_reason"]
    queued = [
        t for t in trials if t.state == TrialState.WAITING and t.system_attrs.get("failed_trial") == failed.number
    ]
    assert len(queued) == 1 and queued[0].params == failed.params


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "signum", "code"), [("1", signal.SIGINT, 130), ("2", signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_interrupted_search_exits_128_plus_the_signal(
    synth_dir: Path, tmp_path: Path, workers: str, signum: int, code: int
) -> None:
    """`hpo search … && hpo export …` must not go on to export a search that was stopped."""
    toml = write_study(tmp_path, "stop", synth_dir, study={"n_trials": 50}, training={"max_epochs": 8})
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "search", str(toml), "--workers", workers, "--no-progress"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(
        lambda: any(t.state == TrialState.RUNNING and t.intermediate_values for t in trials_of(toml, url)),
        180,
        "a trial mid-way",
    )
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out
    assert "Run the same command again to resume" in out and "Traceback" not in out
    trials = trials_of(toml, url)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all("interrupted" in t.user_attrs["fail_reason"] for t in failed)
    requeued = {t.system_attrs.get("failed_trial") for t in trials if t.state == TrialState.WAITING}
    assert {t.number for t in failed} <= requeued


@pytest.mark.slow
def test_worker_signalled_while_preparing_the_data_exits_143(tmp_path: Path) -> None:
    """A SIGTERM before the trial loop (a pod stopped while its worker still prepares the data)
    is a clean stop with 128 + SIGTERM, not Ctrl-C's 130, and no traceback."""
    source = tmp_path / "imgs"
    synth = run_hpo("data", "synth", source, "--classes", "4", "--per-class", "150", "--image-size", "32")
    assert synth.returncode == 0, synth.stderr
    toml = write_study(tmp_path, "early", source)
    proc = start_worker(toml, "w0")
    lock = tmp_path / "early" / "prepared-16px" / ".prepare-lock"  # the worker is inside load_data
    wait_for(lock.exists, 120, "the worker to start preparing the data")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert "stopped by signal (SIGTERM) while starting" in out and "Traceback" not in out
