"""Exact study-wide trial caps with many workers.

`MaxTrialsCallback` stops a worker *after* a trial finishes, so N workers can overshoot the
cap by N-1. Before each trial a worker therefore claims a slot: under a study-wide lock
(a Postgres advisory lock, or a file lock beside a SQLite file) it fails stale trials,
counts finished + running trials, and only then lets Optuna create its trial; the objective
releases the lock as soon as the trial exists. A worker whose peers hold the last slots
waits instead of leaving, so if one of them dies it picks up the re-queued retry.

The lock is held for milliseconds; waiting `LOCK_TIMEOUT_S` for it means a peer hangs while
holding it (or the database does), which is reported instead of waiting forever. Workers on
``grpc://`` (`hpo proxy`) ask the proxy to hold the same lock for them (`hpo.workers.proxy.ProxyLock`),
so workers on the database and behind the proxy share one cap.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo.workers.experimental import experimental
from hpo.workers.lock import LOCK_TIMEOUT_S, DatabaseLock
from hpo.workers.proxy import ProxyLock, ProxyStorage
from hpo.workers.storage import rdb_storage

__all__ = ["FINISHED", "LOCK_TIMEOUT_S", "Slot", "SlotLock", "claim"]

#: the trials that count toward the study-wide cap
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class Slot(Enum):
    RUN = "run"  # start a trial now
    WAIT = "wait"  # the remaining slots are taken by running trials
    DONE = "done"  # the cap is reached


class SlotLock:
    """Study-wide mutex on ``storage`` (a study's, as Optuna wraps it, or hpo's own): an
    advisory lock keyed by the study's name, or ``<db>.slot-lock`` beside a SQLite file; held by
    the proxy for a ``grpc://`` storage. Held to claim a slot, to fail and re-queue stale or
    interrupted trials, and to enqueue the study's starting points
    (`hpo.study.study.open_study`), so each is done once."""

    def __init__(self, storage: Any, study_name: str, timeout: float = LOCK_TIMEOUT_S) -> None:
        what = "study lock"
        self._lock: DatabaseLock | ProxyLock
        if isinstance(storage, ProxyStorage):
            self._lock = ProxyLock(storage, study_name, timeout=timeout, what=what)
        else:
            rdb = rdb_storage(storage)
            self._lock = DatabaseLock(rdb.engine, rdb.location, study_name, timeout=timeout, what=what)

    def acquire(self) -> None:
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> SlotLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim(study: optuna.Study, cap: int) -> Slot:
    """Decide whether this worker may start a trial; before a WAIT or DONE, fail stale trials
    (re-queuing them) and count again. Call with the `SlotLock` held.

    A RUN needs no stale check of its own: Optuna's ``optimize`` fails stale trials right before
    it creates the trial, still under the lock, and a stale trial counted as running only made
    the count stricter. Skipping it saves a round trip under the lock on every trial start,
    which is what bounds many workers (BENCHMARKS.md, "Scale")."""
    slot = _count(study, cap)
    if slot is Slot.RUN:
        return slot
    with experimental():
        optuna.storages.fail_stale_trials(study)
    return _count(study, cap)


def _count(study: optuna.Study, cap: int) -> Slot:
    trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    finished = sum(t.state in FINISHED for t in trials)
    if finished >= cap:
        return Slot.DONE
    return Slot.WAIT if len(trials) >= cap else Slot.RUN
