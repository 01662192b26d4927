"""Faults around how trials are retried and enqueued, injected for real: a trial failed and
retried by a peer while its worker was cut off (an outage, a pause), workers enqueuing the
baseline and presets at the same moment, a SIGTERM arriving after a pause past the grace."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import optuna
import psycopg
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import HpoError
from hpo.records.trial import TrialRecord
from hpo.workers.experimental import experimental
from hpo.workers.outage import storage_failure
from hpo.workers.recovery import requeue_interrupted
from hpo.workers.slots import Slot, SlotLock, claim
from hpo.workers.storage import make_storage
from tests.helpers import ROOT
from tests.helpers.faultkit import postgres_down
from tests.helpers.studyfiles import write_study
from tests.helpers.workerkit import FINISHED, start_worker, trials_of, wait_for, wait_mid_trial

OWNER = "owner@host:1"
N = 3  # workers started together (as in the issue)


def retries_of(trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    """The trials that re-queue ``number`` directly (Optuna's ``retry_history`` ends with it)."""
    return [t for t in trials if t.system_attrs.get("retry_history", [])[-1:] == [number]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trials.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def hb_study(url: str) -> Iterator[optuna.Study]:
    """A study with heartbeats every second and a one-second grace (deleted afterwards)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    storage = make_storage(url, heartbeat_interval=1, grace_period=1, max_retry=3)
    yield optuna.create_study(study_name=name, storage=storage)
    with suppress(KeyError):
        optuna.delete_study(study_name=name, storage=url)


def _stale_trial(study: optuna.Study, beat: bool = True) -> FrozenTrial:
    """A RUNNING trial of worker `OWNER` whose heartbeats stopped more than the grace ago."""
    trial = study.ask({"x": FloatDistribution(0, 1)})
    trial.set_user_attr("worker", OWNER)
    if beat:
        study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    time.sleep(2.2)
    return study.get_trials()[trial.number]


def _peer_claims(study: optuna.Study) -> None:
    """What a peer does before each trial, under the study lock: claim a slot, then (on RUN)
    Optuna's ``optimize`` fails stale trials (re-queuing them) before it creates its trial."""
    with SlotLock(study._storage, study.study_name):
        if claim(study, cap=100) is Slot.RUN:
            with experimental():
                optuna.storages.fail_stale_trials(study)


def _owner_requeues(study: optuna.Study, current: int) -> list[int]:
    """What the owner does once the storage answers again (or on a signal)."""
    return requeue_interrupted(study, OWNER, current, 3, SlotLock(study._storage, study.study_name))


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_a_peer_failed_and_retried_is_not_requeued_again(hb_study: optuna.Study) -> None:
    """Issue 23 #3: the owner comes back from an outage after a peer failed and retried its trial."""
    stale = _stale_trial(hb_study)
    _peer_claims(hb_study)
    assert hb_study.get_trials()[stale.number].state == TrialState.FAIL
    requeued = _owner_requeues(hb_study, stale.number)
    trials = hb_study.get_trials()
    assert len(retries_of(trials, stale.number)) == 1, [(t.number, t.state, t.system_attrs) for t in trials]
    assert requeued == []


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_the_owner_requeues_its_own_trial_once(hb_study: optuna.Study) -> None:
    """The other order: the owner fails and re-queues first; a peer then finds nothing stale."""
    stale = _stale_trial(hb_study)
    assert _owner_requeues(hb_study, stale.number) == [stale.number]
    _peer_claims(hb_study)
    assert _owner_requeues(hb_study, stale.number) == []  # a second interruption
    assert len(retries_of(hb_study.get_trials(), stale.number)) == 1


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
@pytest.mark.parametrize("beat", [True, False], ids=["silent", "never-beat"])
def test_a_trial_failed_for_its_heartbeat_says_why(hb_study: optuna.Study, beat: bool) -> None:
    """Issue 23 #10: a FAIL trial of a killed worker says why (naming the worker once it had
    started training); its retry does not inherit the reason nor the worker's name."""
    stale = _stale_trial(hb_study, beat=beat)
    _peer_claims(hb_study)
    trials = hb_study.get_trials()
    reason = str(TrialRecord.of(trials[stale.number]).fail_reason)
    expected = f"worker {OWNER} stopped sending heartbeats" if beat else "its worker sent no heartbeat"
    assert reason.startswith(expected) and "(grace_period 1 s)" in reason, reason
    (retry,) = retries_of(trials, stale.number)
    assert TrialRecord.of(retry) == TrialRecord() and retry.params == stale.params


@pytest.mark.postgres
def test_a_lock_wait_cut_off_by_the_database_leaves_no_half_held_lock(pg_url: str) -> None:
    """A worker waiting for the study lock when the database drops its connection (a restart)
    does not hold the lock; its next acquire takes it for real. (A half-set lock let a peer
    fail and re-queue a trial while its owner, holding the lock, re-queued it too.)"""
    name, tag = f"lock-{uuid.uuid4().hex[:10]}", f"hpo-test-{uuid.uuid4().hex[:10]}"
    waiter = SlotLock(make_storage(f"{pg_url}?application_name={tag}"), name, timeout=30)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            waiter.acquire()
        except Exception as exc:
            errors.append(exc)

    def cut_off_the_waiter() -> bool:
        with psycopg.connect(pg_url, autocommit=True) as con:
            query = (
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = %s and query like 'select pg_try_advisory_lock%%'"
            )
            return bool(con.execute(query, (tag,)).fetchall())

    with SlotLock(make_storage(pg_url), name, timeout=30):
        thread = threading.Thread(target=wait)
        thread.start()
        wait_for(cut_off_the_waiter, 20, "the waiter polling for the lock")
        thread.join(timeout=20)
    assert errors and storage_failure(errors[0]) is not None, errors
    with waiter, pytest.raises(HpoError, match="waited 1 s for the study lock"):
        SlotLock(make_storage(pg_url), name, timeout=1).acquire()


# --- enqueue of the baseline and presets by workers started together -------------------------

_OPEN = """
import fcntl, pathlib, sys
import optuna
from hpo.config import load_config
from hpo.study.study import open_study
gate = pathlib.Path(sys.argv[2])
create_study = optuna.create_study

def create_then_wait(*args, **kwargs):  # every process has the study: go on all at once
    study = create_study(*args, **kwargs)
    with gate.open() as fh:
        gate.with_name("ready-" + sys.argv[3]).touch()
        fcntl.flock(fh, fcntl.LOCK_SH)  # blocks while the test holds the gate
    return study

optuna.create_study = create_then_wait
open_study(load_config(sys.argv[1]), sys.argv[3])
"""


@pytest.mark.slow
def test_workers_started_together_enqueue_the_baseline_and_presets_once(
    url: str, synth_dir: Path, tmp_path: Path
) -> None:
    """Issue 23 #4 (enqueue): N processes open a fresh study at the same moment; the study's
    tables and row exist already (schema creation is another race, tested on its own)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    toml = write_study(tmp_path, name, synth_dir, study={"storage": url})
    toml.write_text(
        toml.read_text().replace("[data]", "[[study.enqueue]]\ndepth = 1\n\n[[study.enqueue]]\ndepth = 2\n\n[data]", 1)
    )
    optuna.create_study(study_name=name, storage=url, direction="maximize")
    gate = tmp_path / "gate"
    gate.touch()
    held = gate.open()
    fcntl.flock(held, fcntl.LOCK_EX)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, str(toml), str(gate), f"w{i}"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N)
    ]
    try:
        ready = [tmp_path / f"ready-w{i}" for i in range(N)]
        wait_for(lambda: all(r.exists() for r in ready), 120, "every process to wait at the gate")
        time.sleep(0.5)  # the last one is blocked in flock too
        held.close()  # opens the gate: all of them enqueue at once
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * N, errors
        trials = optuna.load_study(study_name=name, storage=url).get_trials()
        fixed = [t.system_attrs["fixed_params"] for t in trials]
        assert sum(TrialRecord.of(t).baseline for t in trials) == 1, fixed
        assert len(trials) == 3, fixed  # the baseline and the two presets
    finally:
        held.close()
        with suppress(KeyError):
            optuna.delete_study(study_name=name, storage=url)


# --- a worker cut off past the grace: an outage, a pause then SIGTERM ----------------------


class Output:
    """What a process prints, drained by a thread as it comes (to wait for a line)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(proc.stdout or []), daemon=True)
        self._thread.start()

    def has(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    def wait(self, timeout: float) -> str:
        """All of it once the process has exited."""
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=10)
        return "".join(self.lines)


def fail_as_a_peer(toml: Path, url: str, number: int, grace_period: int) -> FrozenTrial:
    """Claim slots as a peer worker does until trial ``number`` (its worker silent) is failed."""
    storage = make_storage(url, heartbeat_interval=1, grace_period=grace_period, max_retry=3)
    study = optuna.load_study(study_name=toml.stem, storage=storage)

    def failed() -> bool:
        _peer_claims(study)
        return study.get_trials(deepcopy=False)[number].state == TrialState.FAIL

    wait_for(failed, 60, f"a peer failing trial {number}")
    return study.get_trials()[number]


@pytest.mark.postgres_outage
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_after_an_outage_past_the_grace_the_trial_is_requeued_once(pg_study: Callable[..., Path], pg_url: str) -> None:
    """Issue 23 #3 end to end: Postgres down mid-trial; once it is back a peer fails the silent
    trial and re-queues it before the owner (paused, so the order is fixed) re-queues it itself."""
    toml = pg_study(n_trials=1)
    owner = start_worker(toml, "owner")
    output = Output(owner)
    stalled = wait_mid_trial(toml, pg_url, "owner")
    try:
        with postgres_down():
            wait_for(lambda: output.has("stopped answering"), 60, "the owner to notice the outage")
            owner.send_signal(signal.SIGSTOP)
        failed = fail_as_a_peer(toml, pg_url, stalled.number, grace_period=4)
    finally:
        owner.send_signal(signal.SIGCONT)
    out = output.wait(timeout=600)
    assert owner.returncode == 0 and "storage is back after" in out and "Traceback" not in out, out
    trials = trials_of(toml, pg_url)
    assert len(retries_of(trials, stalled.number)) == 1, [(t.number, t.state.name, t.system_attrs) for t in trials]
    assert [t.params for t in trials if t.state in FINISHED] == [stalled.params]  # the cap's one slot: the retry
    assert not [t.number for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]  # no copy left over
    assert "stopped sending heartbeats" in str(TrialRecord.of(failed).fail_reason)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_sigterm_after_a_pause_past_the_grace_stops_the_worker(pg_study: Callable[..., Path], pg_url: str) -> None:
    """Issue 23 #6: `docker pause` past the grace (a peer fails the trial), then `docker stop`
    (SIGCONT + SIGTERM): the worker stops with 143 and starts no other trial."""
    toml = pg_study(n_trials=4)
    worker = start_worker(toml, "paused")
    stalled = wait_mid_trial(toml, pg_url, "paused")
    worker.send_signal(signal.SIGSTOP)
    try:
        fail_as_a_peer(toml, pg_url, stalled.number, grace_period=4)
    finally:
        worker.send_signal(signal.SIGCONT)
        worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=300)
    assert worker.returncode == 143, out
    assert "stopped by signal" in out and "going on" not in out and "Traceback" not in out, out
    assert f"trial {stalled.number} is re-queued already (by a peer" in out
    trials = trials_of(toml, pg_url)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    assert not [t.number for t in trials if t.number > stalled.number and t.state in FINISHED]
    (retry,) = retries_of(trials, stalled.number)
    assert retry.state == TrialState.WAITING and retry.params == stalled.params


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_stale_trial_holding_the_last_slot_is_failed_by_the_claim(hb_study: optuna.Study) -> None:
    """A claim that would WAIT fails stale trials first (a RUN leaves that to Optuna's optimize):
    the dead worker's trial frees its slot and its retry takes it."""
    stale = _stale_trial(hb_study)
    with SlotLock(hb_study._storage, hb_study.study_name):
        assert claim(hb_study, cap=1) is Slot.RUN
    trials = hb_study.get_trials()
    assert trials[stale.number].state == TrialState.FAIL
    assert len(retries_of(trials, stale.number)) == 1
