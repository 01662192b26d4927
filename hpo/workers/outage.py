"""A worker riding out a storage outage (a Postgres restart, a network blip) instead of dying.

When the database stops answering mid-trial, the trial cannot be reported or told, and
Optuna's `optimize` raises. The worker then waits for the database (probing every few
seconds, saying so once), re-queues the trial it was running, and goes on; after
`OUTAGE_LIMIT_S` without the database it stops with a one-line error. Nothing is lost
either way: a trial left RUNNING is failed and retried by the heartbeat mechanism.

Behind `hpo proxy` (``grpc://``) an outage is a gRPC ``UNAVAILABLE``: the proxy is down, or its
database is (the proxy answers a database error so). Other gRPC errors are not outages.

A full disk is not an outage: the database answers every read and refuses every write, so
waiting would loop for ever; the worker stops at once with one line (`DiskFull`, exit 74).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import optuna
import sqlalchemy

from hpo.errors import DiskFull, StorageUnavailable
from hpo.fsutil import disk_full, is_disk_full
from hpo.workers.heartbeat import error_line
from hpo.workers.proxy import rpc_code
from hpo.workers.url import StorageUrl

__all__ = ["OUTAGE_LIMIT_S", "STORAGE_ERRORS", "StorageOutage", "storage_failure", "storage_full"]

OUTAGE_LIMIT_S = 300.0
PROBE_EVERY_S = 2.0
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL from Python 3.11
STORAGE_ERRORS = (
    optuna.exceptions.StorageInternalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def storage_failure(exc: BaseException) -> BaseException | None:
    """The database error behind ``exc``, if any: Optuna wraps it (StorageInternalError) and,
    when the database is gone while it cleans up, may raise something else on top of it
    (an UnboundLocalError in its own ``finally``), so the whole chain is searched. A gRPC
    ``UNAVAILABLE`` from `hpo proxy` counts as one."""
    seen = _chain(exc)
    proxy = [e for e in seen if rpc_code(e) == "UNAVAILABLE"]
    if proxy:
        return proxy[0]
    database: list[BaseException] = [e for e in seen if isinstance(e, STORAGE_ERRORS[1:])]
    wrapped: list[BaseException] = [e for e in seen if isinstance(e, STORAGE_ERRORS)]
    return (database + wrapped)[0] if wrapped else None


def storage_full(exc: BaseException) -> bool:
    """Whether the database refused a write for want of space: SQLite's "database or disk is
    full" (SQLITE_FULL), Postgres's disk_full (SQLSTATE 53100), or the OS's ENOSPC. Not an
    outage: waiting does not free the disk."""
    for e in _chain(exc):
        if isinstance(e, sqlite3.Error) and (
            getattr(e, "sqlite_errorcode", None) == SQLITE_FULL or "database or disk is full" in str(e)
        ):
            return True
        if getattr(e, "sqlstate", None) == "53100" or is_disk_full(e):
            return True
    return False


class StorageOutage:
    """Waits for the storage to answer again; ``limit_s`` bounds the wait."""

    def __init__(self, location: StorageUrl, emit: Callable[[str], None], limit_s: float = OUTAGE_LIMIT_S) -> None:
        self.location, self.emit, self.limit_s = location, emit, limit_s
        self.since: float | None = None

    def wait(self, exc: BaseException, probe: Callable[[], object]) -> None:
        """Called with the error that interrupted the worker; returns once ``probe`` succeeds.
        A full disk is no outage (the database answers, and refuses every write): `DiskFull`."""
        if storage_full(exc):
            raise self._full(exc)
        self.since = time.monotonic()
        self.emit(
            f"storage {self.location} stopped answering ({error_line(exc)}); waiting up to {self.limit_s:.0f} s for it"
        )
        while True:
            time.sleep(PROBE_EVERY_S)
            try:
                probe()
                return
            except Exception as again:
                if storage_failure(again) is None:
                    raise
                if time.monotonic() - self.since > self.limit_s:
                    raise StorageUnavailable(
                        f"storage {self.location} unreachable for {self.limit_s:.0f} s ({error_line(again)}) — "
                        "the study is safe in it; start the worker again once it is back"
                    ) from None

    def _full(self, exc: BaseException) -> DiskFull:
        kept = "every finished trial is kept"
        if self.location.path is not None:
            return disk_full(self.location.path, what=f"SQLite: database or disk is full; {kept}")
        return DiskFull(
            f"disk full: the database server of {self.location} ({error_line(exc)}; {kept}) — "
            "free some space on its disk and run it again"
        )

    def recovered(self, requeued: list[int]) -> None:
        waited = time.monotonic() - (self.since or time.monotonic())
        again = f"; re-queued trial(s) {', '.join(f'#{n}' for n in requeued)}" if requeued else ""
        self.emit(f"storage is back after {waited:.0f} s{again}")
        self.since = None
