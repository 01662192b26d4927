"""Exact study-wide trial caps with many workers.

`MaxTrialsCallback` stops a worker *after* a trial finishes, so N workers can overshoot the
cap by N-1. Before each trial a worker therefore claims a slot: under a study-wide lock
(a Postgres advisory lock, or a file lock beside a SQLite file) it fails stale trials,
counts finished + running trials, and only then lets Optuna create its trial; the objective
releases the lock as soon as the trial exists. A worker whose peers hold the last slots
waits instead of leaving, so if one of them dies it picks up the re-queued retry.

The lock is held for milliseconds; waiting `LOCK_TIMEOUT_S` for it means a peer hangs while
holding it (or the database does), which is reported instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import warnings
from enum import Enum
from typing import Any

import filelock
import optuna
import sqlalchemy
from optuna.trial import TrialState

from hpo.errors import HpoError
from hpo.fsutil import file_lock
from hpo.workers.storage import sqlite_path

__all__ = ["FINISHED", "LOCK_TIMEOUT_S", "Slot", "SlotLock", "claim"]

LOCK_TIMEOUT_S = 300.0
#: the trials that count toward the study-wide cap
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class Slot(Enum):
    RUN = "run"  # start a trial now
    WAIT = "wait"  # the remaining slots are taken by running trials
    DONE = "done"  # the cap is reached


class SlotLock:
    """Study-wide mutex: a Postgres advisory lock, or ``<db>.slot-lock`` beside a SQLite file."""

    def __init__(self, storage: Any, study_name: str, url: str = "", timeout: float = LOCK_TIMEOUT_S) -> None:
        self._engine = getattr(storage, "engine", None)
        self._key = int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True)
        self._con: sqlalchemy.Connection | None = None
        path = sqlite_path(url)
        self._file = path.with_name(path.name + ".slot-lock") if path is not None else None
        self._held: contextlib.ExitStack | None = None
        self.timeout = timeout

    @property
    def _postgres(self) -> bool:
        return self._engine is not None and self._engine.dialect.name == "postgresql"

    def _timed_out(self) -> HpoError:
        return HpoError(
            f"waited {self.timeout:.0f} s for the study lock; another worker holds it and does not "
            "release it (hung, or the database is unreachable) — stop that worker or check the database"
        )

    def acquire(self) -> None:
        if self._file is not None and self._held is None:
            stack = contextlib.ExitStack()
            try:
                stack.enter_context(file_lock(self._file, timeout=self.timeout))
            except filelock.Timeout:
                raise self._timed_out() from None
            self._held = stack
        elif self._postgres and self._con is None:
            self._con = self._engine.connect()  # type: ignore[union-attr]
            deadline = time.monotonic() + self.timeout
            query = sqlalchemy.text("select pg_try_advisory_lock(:k)")
            while not self._con.execute(query, {"k": self._key}).scalar():
                if time.monotonic() > deadline:
                    self._con.close()
                    self._con = None
                    raise self._timed_out()
                time.sleep(0.05)

    def release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._con is not None:
            try:
                self._con.execute(sqlalchemy.text("select pg_advisory_unlock(:k)"), {"k": self._key})
                self._con.commit()
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
