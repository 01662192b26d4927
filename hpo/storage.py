"""`make_storage(url)`: the Optuna storage behind a study.

- ``sqlite:///path.db`` (default): one file, WAL journal and a busy timeout so a reader (the
  dashboard) and the search don't lock each other out.
- ``postgresql://user:pass@host/db``: SQLAlchemy + psycopg2 with ``pool_pre_ping``.

Both get Optuna's RDB heartbeat when asked: a running trial writes a heartbeat every
``heartbeat_interval`` s; a trial silent for ``grace_period`` s (its worker died) is marked
FAIL by the next worker that starts a trial, and `RetryHeartbeatStaleTrialCallback`
re-queues its params.

**One worker per SQLite file.** SQLite has one writer at a time; Optuna writes at every
epoch of every trial, so parallel workers on one file spend their time waiting for locks
and fail with "database is locked" under load. Journal storage would avoid the locks but
has no heartbeat, so a dead worker's trial would stay RUNNING forever. `sqlite_worker_lock`
therefore refuses a second worker on the same file with a message pointing to Postgres,
which is what parallel workers use.

Passwords never appear in messages: use `mask_url`.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hpo.errors import HpoError
from hpo.fsutil import file_lock

__all__ = [
    "StorageError",
    "make_storage",
    "mask_url",
    "require_study",
    "server_version",
    "sqlite_path",
    "sqlite_worker_lock",
    "study_names",
]

SQLITE_TIMEOUT_S = 60


class StorageError(HpoError):
    """The storage URL is malformed or the database cannot be reached."""


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for other back ends."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def make_storage(
    url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None, max_retry: int | None = None
) -> RDBStorage:
    """Open (and create tables in) the storage at ``url``; with ``heartbeat_interval``, stale
    trials are failed after ``grace_period`` and retried up to ``max_retry`` times."""
    engine_kwargs: dict[str, object]
    shown = mask_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S) as con:
                con.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite file {path} ({exc})") from None
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif url.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
        engine_kwargs = {"pool_pre_ping": True}
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2
        url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", url)
    else:
        raise StorageError(f"unsupported storage URL {shown} — use sqlite:///FILE or postgresql://…")
    heartbeat: dict[str, object] = {}
    if heartbeat_interval:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        heartbeat = {
            "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period,
            "heartbeat_stale_trial_callback": retry,
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)  # type: ignore[arg-type]
    except Exception as exc:  # SQLAlchemy/psycopg2 raise many types for connection problems
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open storage {shown} ({mask_url(first)[:200]})") from None


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(s.study_name for s in storage.get_all_studies())


def require_study(storage: optuna.storages.BaseStorage, url: str, name: str) -> int:
    """The id of study ``name``; a missing one is an error listing the studies that exist."""
    studies = {s.study_name: s._study_id for s in storage.get_all_studies()}
    if name not in studies:
        found = ", ".join(sorted(studies)) if studies else "none"
        raise StorageError(f"no study '{name}' in {mask_url(url)} (studies there: {found}) — run `hpo search` first")
    return int(studies[name])


def server_version(storage: RDBStorage) -> str:
    """``PostgreSQL 15.19 ...`` or ``SQLite 3.x``."""
    with storage.engine.connect() as con:
        if storage.engine.dialect.name == "sqlite":
            return f"SQLite {con.execute(sqlalchemy.text('select sqlite_version()')).scalar()}"
        return str(con.execute(sqlalchemy.text("select version()")).scalar())


@contextmanager
def sqlite_worker_lock(url: str) -> Iterator[None]:
    """Hold ``<db>.worker-lock`` while a worker runs on a SQLite file; a second worker gets a
    `StorageError`. The OS drops the lock when the process dies, even on SIGKILL."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    with ExitStack() as stack:
        try:
            stack.enter_context(file_lock(path.with_name(path.name + ".worker-lock"), blocking=False))
        except BlockingIOError:
            raise StorageError(
                f"another hpo worker is running on {path}; SQLite takes one worker at a time — "
                "for parallel workers use a postgresql:// storage (see README, 'Scale out')"
            ) from None
        yield
