"""Faults around workers, injected for real: a worker paused past the grace period, a worker
dead before its first heartbeat, a database restarted mid-search, a hung lock holder, a
heartbeat that hits a database error."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.errors import HpoError
from hpo.fsutil import file_lock
from hpo.workers.slots import SlotLock
from hpo.workers.storage import make_storage
from tests.helpers import ROOT
from tests.helpers.faultkit import restart_postgres
from tests.helpers.workerkit import FINISHED, assert_complete_study, start_worker, trials_of, wait_for, wait_mid_trial


def _no_lost_trials(trials: list[optuna.trial.FrozenTrial]) -> None:
    """Every failed trial's params were re-queued once (one retry exists), nothing is RUNNING."""
    retries = Counter(t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history"))
    lost = [t.number for t in trials if t.state == TrialState.FAIL and t.number not in retries]
    assert not lost, lost
    assert not [n for n, count in retries.items() if count > 1], retries
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]


@pytest.mark.postgres
@pytest.mark.slow
def test_worker_paused_past_grace_goes_on_after_a_peer_retried_its_trial(
    pg_study: Callable[..., Path], pg_url: str
) -> None:
    toml = pg_study(n_trials=8)
    paused = start_worker(toml, "paused")
    stalled = wait_mid_trial(toml, pg_url, "paused")
    paused.send_signal(signal.SIGSTOP)
    peer = start_worker(toml, "peer")
    try:
        wait_for(lambda: trials_of(toml, pg_url)[stalled.number].state == TrialState.FAIL, 120, "the peer failing it")
    finally:
        paused.send_signal(signal.SIGCONT)
    out_paused, _ = paused.communicate(timeout=600)
    out_peer, _ = peer.communicate(timeout=600)
    assert paused.returncode == 0 and peer.returncode == 0, out_paused + out_peer
    assert f"trial {stalled.number} was failed by another worker while this one was paused" in out_paused
    assert "Traceback" not in out_paused + out_peer
    trials = trials_of(toml, pg_url)
    assert_complete_study(trials, 8)
    _no_lost_trials(trials)
    finished = [tuple(sorted(t.params.items())) for t in trials if t.state in FINISHED]
    assert len(finished) == len(set(finished)), [
        (t.number, t.state.name, t.system_attrs, t.user_attrs.get("worker"), t.params) for t in trials
    ]  # the stalled params finished once, by the retry
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == stalled.number)
    assert retry.params == stalled.params and retry.state in FINISHED


@pytest.mark.postgres_outage
@pytest.mark.postgres
@pytest.mark.slow
def test_search_survives_a_postgres_restart(pg_study: Callable[..., Path], pg_url: str) -> None:
    toml = pg_study(n_trials=10)
    search = subprocess.Popen(
        [sys.executable, "-m", "hpo", "search", str(toml), "--workers", "2", "--no-progress"],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_mid_trial(toml, pg_url, "w0", timeout=180)
    restart_postgres(down_s=5)
    out, _ = search.communicate(timeout=600)
    assert search.returncode == 0, out
    assert "stopped answering" in out and "storage is back after" in out
    assert "Traceback" not in out
    trials = trials_of(toml, pg_url)
    assert_complete_study(trials, 10)
    _no_lost_trials(trials)


def _heartbeat_study(tmp_path: Path) -> tuple[optuna.Study, str]:
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    storage = make_storage(url, heartbeat_interval=1, grace_period=2, max_retry=3)
    return optuna.create_study(study_name="hb", storage=storage), url


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_trial_without_any_heartbeat_is_failed_and_retried(tmp_path: Path) -> None:
    """A worker that died between Optuna creating its trial and its first heartbeat."""
    study, _ = _heartbeat_study(tmp_path)
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # no heartbeat thread
    time.sleep(2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING and retry[0].params == trials[0].params


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_heartbeat_lives_through_a_database_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    study, url = _heartbeat_study(tmp_path)
    trial = study.ask()
    with sqlite3.connect(url[len("sqlite:///") :]) as con:
        con.execute("drop table trial_heartbeats")  # every heartbeat write now fails in the database
    with caplog.at_level(logging.WARNING, logger="hpo.workers.heartbeat"):
        study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    assert "not recorded" in caplog.text and "retrying next interval" in caplog.text


def test_lock_waits_have_a_timeout(tmp_path: Path) -> None:
    study, _ = _heartbeat_study(tmp_path)
    lock = SlotLock(study._storage, "hb", timeout=1)
    with file_lock(tmp_path / "hb.db.slot-lock"), pytest.raises(HpoError, match="waited 1 s for the study lock"):
        lock.acquire()  # a hung peer holds it


@pytest.mark.postgres
def test_postgres_lock_waits_have_a_timeout(pg_url: str) -> None:
    storage = make_storage(pg_url)
    holder, waiter = SlotLock(storage, "locked-study", timeout=1), SlotLock(storage, "locked-study", timeout=1)
    with holder, pytest.raises(HpoError, match="waited 1 s for the study lock"):
        waiter.acquire()
    with waiter:  # released by the holder: free again
        pass


@pytest.mark.postgres
def test_the_slot_lock_of_a_postgres_study_is_held(pg_url: str) -> None:
    """The run loop locks ``study._storage``, which Optuna wraps in a cache without the engine:
    the advisory lock was skipped there, so the exact cap on Postgres was not locked."""
    study = optuna.create_study(storage=make_storage(pg_url))
    try:
        holder, waiter = (SlotLock(study._storage, study.study_name, timeout=t) for t in (300, 1))
        with holder, pytest.raises(HpoError, match="waited 1 s for the study lock"):
            waiter.acquire()
    finally:
        optuna.delete_study(study_name=study.study_name, storage=pg_url)
