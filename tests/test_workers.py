"""Parallel workers on the real Postgres and on a shared SQLite file: caps, SIGKILL chaos,
SIGTERM, one process per GPU."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import HpoError
from hpo.launcher import plan_workers
from tests.conftest import ROOT, run_hpo
from tests.studyfiles import write_study

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture
def pg_study(pg_url: str, synth_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Write a study file on Postgres with a unique name; delete the study afterwards."""
    names: list[str] = []

    def make(**study: object) -> Path:
        name = f"t-{uuid.uuid4().hex[:10]}"
        names.append(name)
        fields = {"storage": pg_url, "heartbeat_interval": 1, "grace_period": 4, **study}
        return write_study(tmp_path, name, synth_dir, study=fields, training={"max_epochs": 5})

    yield make
    for name in names:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=pg_url)


def _trials(toml: Path, url: str) -> list[FrozenTrial]:
    try:
        return optuna.load_study(study_name=toml.stem, storage=url).get_trials()
    except KeyError:  # the worker has not created the study yet
        return []


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _worker(toml: Path, worker_id: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo", "worker", str(toml), "--id", worker_id, "--threads", "1", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_mid_trial(toml: Path, url: str, worker_id: str, timeout: float = 120) -> FrozenTrial:
    """The trial ``worker_id`` is training, once it has finished at least one epoch."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t in _trials(toml, url):
            mine = str(t.user_attrs.get("worker", "")).startswith(f"{worker_id}@")
            if mine and t.state == TrialState.RUNNING and t.intermediate_values:
                return t
        time.sleep(0.2)
    raise AssertionError(f"{worker_id} never got mid-trial")


def _assert_complete_study(trials: list[FrozenTrial], cap: int) -> None:
    assert len({t.number for t in trials}) == len(trials)
    assert sum(t.state in FINISHED for t in trials) == cap
    assert not [t for t in trials if t.state == TrialState.RUNNING]


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
    exactly one distinct GPU, and 40 short trials end with an exact cap, nothing RUNNING and
    no "database is locked"."""
    toml = write_study(
        tmp_path,
        "shared",
        synth_dir,
        study={"n_trials": 40, "heartbeat_interval": 1, "grace_period": 5},
        training={"max_epochs": 2},
    )
    env = _fake_nvidia_smi(tmp_path / "bin", 4)
    proc = run_hpo("search", toml, "--workers", "4", "--no-progress", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Launching 4 workers (GPUs 0, 1, 2, 3)" in out
    assert "locked" not in out.lower() and "Traceback" not in out
    trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{tmp_path / 'shared.db'}").get_trials()
    _assert_complete_study(trials, 40)
    seen = {str(t.user_attrs["worker"]).split("@")[0]: t.user_attrs["cuda_visible_devices"] for t in trials}
    assert seen == {"w0": "0", "w1": "1", "w2": "2", "w3": "3"}, seen
    assert "40/40 trials finished" in out


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_finish_exactly_the_cap(pg_study: Callable[..., Path], pg_url: str) -> None:
    toml = pg_study(n_trials=12)
    proc = run_hpo("search", toml, "--workers", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for w in ("[w0]", "[w1]", "[w2]"):
        assert f"{w} worker " in proc.stdout
    assert "12/12 trials finished" in proc.stdout
    assert "postgresql://postgres@" in proc.stdout  # no password here, but the URL is shown masked
    trials = _trials(toml, pg_url)
    _assert_complete_study(trials, 12)
    workers = {str(t.user_attrs["worker"]).split("@")[0] for t in trials}
    assert workers == {"w0", "w1", "w2"}


def _kill_mid_trial_then_resume(toml: Path, url: str) -> None:
    """SIGKILL a worker mid-trial; a new worker fails the stale trial, retries its params once
    and finishes the study's cap."""
    victim = _worker(toml, "victim")
    killed = _wait_mid_trial(toml, url, "victim")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    survivor = _worker(toml, "survivor")
    out, _ = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, out

    trials = _trials(toml, url)
    _assert_complete_study(trials, 5)
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
    _kill_mid_trial_then_resume(pg_study(n_trials=5), pg_url)


@pytest.mark.slow
def test_sigkilled_worker_on_sqlite_is_retried_too(synth_dir: Path, tmp_path: Path) -> None:
    study = {"n_trials": 5, "heartbeat_interval": 1, "grace_period": 4}
    toml = write_study(tmp_path, "killed", synth_dir, study=study, training={"max_epochs": 5})
    _kill_mid_trial_then_resume(toml, f"sqlite:///{tmp_path / 'killed.db'}")


@pytest.mark.postgres
@pytest.mark.slow
def test_sigterm_stops_cleanly_and_requeues(pg_study: Callable[..., Path], pg_url: str) -> None:
    toml = pg_study(n_trials=50)
    worker = _worker(toml, "term")
    interrupted = _wait_mid_trial(toml, pg_url, "term")
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out
    assert "stopped by signal" in out and "Traceback" not in out
    trials = _trials(toml, pg_url)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = trials[interrupted.number]
    assert failed.state == TrialState.FAIL and "interrupted" in failed.user_attrs["fail_reason"]
    queued = [
        t for t in trials if t.state == TrialState.WAITING and t.system_attrs.get("failed_trial") == failed.number
    ]
    assert len(queued) == 1 and queued[0].params == failed.params
