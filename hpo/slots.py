"""Exact study-wide trial caps with many workers.

`MaxTrialsCallback` stops a worker *after* a trial finishes, so N workers can overshoot the
cap by N-1. Before each trial a worker therefore claims a slot: under a study-wide lock
(a Postgres advisory lock; SQLite has one worker by construction) it fails stale trials,
counts finished + running trials, and only then lets Optuna create its trial; the objective
releases the lock as soon as the trial exists. A worker whose peers hold the last slots
waits instead of leaving, so if one of them dies it picks up the re-queued retry.
"""

from __future__ import annotations

import hashlib
import warnings
from enum import Enum
from typing import Any

import optuna
import sqlalchemy
from optuna.trial import TrialState

from hpo.study import FINISHED

__all__ = ["Slot", "SlotLock", "claim"]


class Slot(Enum):
    RUN = "run"  # start a trial now
    WAIT = "wait"  # the remaining slots are taken by running trials
    DONE = "done"  # the cap is reached


class SlotLock:
    """Study-wide mutex; a no-op on SQLite (one worker per file, see `hpo.storage`)."""

    def __init__(self, storage: Any, study_name: str) -> None:
        self._engine = getattr(storage, "engine", None)
        self._key = int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True)
        self._con: sqlalchemy.Connection | None = None

    @property
    def _postgres(self) -> bool:
        return self._engine is not None and self._engine.dialect.name == "postgresql"

    def acquire(self) -> None:
        if self._postgres and self._con is None:
            self._con = self._engine.connect()  # type: ignore[union-attr]
            self._con.execute(sqlalchemy.text("select pg_advisory_lock(:k)"), {"k": self._key})

    def release(self) -> None:
        if self._con is not None:
            try:
                self._con.execute(sqlalchemy.text("select pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._con.close()
                self._con = None

    def __enter__(self) -> SlotLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim(study: optuna.Study, cap: int) -> Slot:
    """Fail stale trials (re-queuing them), then decide whether this worker may start one.
    Call with the `SlotLock` held."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    finished = sum(t.state in FINISHED for t in trials)
    if finished >= cap:
        return Slot.DONE
    return Slot.WAIT if len(trials) >= cap else Slot.RUN
