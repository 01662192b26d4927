"""A mutex shared by every process on one storage: a Postgres advisory lock (keyed by a name),
or an OS file lock on ``<db>.slot-lock`` beside a SQLite file.

Two users: the exact trial cap (`hpo.workers.slots.SlotLock`, one per study) and the creation
of Optuna's tables in a new database (`hpo.workers.schema`). Both hold it for milliseconds
and never one inside the other; waiting `LOCK_TIMEOUT_S` means a holder hangs (or the
database does), which is reported instead of waiting forever. Both kinds are released when
their holder dies, even on SIGKILL (the server ends its session; the OS drops the flock).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import Any

import filelock
import sqlalchemy

from hpo.errors import HpoError
from hpo.fsutil import file_lock
from hpo.workers.url import StorageUrl

__all__ = ["LOCK_TIMEOUT_S", "DatabaseLock"]

LOCK_TIMEOUT_S = 300.0


class DatabaseLock:
    """Exclusive lock ``name`` on the database of ``engine`` (Postgres) or beside the file of
    ``location`` (SQLite); ``what`` names it in the timeout message."""

    def __init__(
        self, engine: Any, location: StorageUrl, name: str, *, timeout: float = LOCK_TIMEOUT_S, what: str = "lock"
    ) -> None:
        self._engine = engine
        self._key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._con: sqlalchemy.Connection | None = None
        path = location.path
        self._file = path.with_name(path.name + ".slot-lock") if path is not None else None
        self._held: contextlib.ExitStack | None = None
        self.timeout, self.what = timeout, what

    @property
    def _postgres(self) -> bool:
        return self._engine is not None and self._engine.dialect.name == "postgresql"

    def _timed_out(self) -> HpoError:
        return HpoError(
            f"waited {self.timeout:.0f} s for the {self.what}; another worker holds it and does not "
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
            con = self._engine.connect()
            deadline = time.monotonic() + self.timeout
            query = sqlalchemy.text("select pg_try_advisory_lock(:k)")
            try:
                while not con.execute(query, {"k": self._key}).scalar():
                    if time.monotonic() > deadline:
                        raise self._timed_out()
                    time.sleep(0.05)
            except BaseException:  # the database went away, a timeout, a signal: not held
                with contextlib.suppress(Exception):
                    con.close()  # the session's end releases a lock it may have taken
                raise
            self._con = con  # only now held: a failed acquire left a half-set lock that later ones skipped

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

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
