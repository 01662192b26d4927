"""Before Optuna touches a database: is it Optuna's, and one creator at a time.

- **Whose tables.** A SQLite file is one application's: one with tables that are not
  Optuna's (another program's, even with its own ``studies`` table) is refused, read through
  a read-only connection so not a byte of it changes. On a Postgres database, which many
  applications share, only a table named like one of Optuna's but shaped otherwise is.
- **One creator.** Optuna creates its tables check-then-create (``create_all``, then a
  version row and an Alembic stamp), so N workers started together on a new database raced:
  all saw no table, and 1-2 of 3 died on ``UniqueViolation pg_type_typname_nsp_index`` /
  "table studies already exists". Creation now runs under the storage's `DatabaseLock`; a
  worker that waits finds the tables made and only reads them.
- **Read-only users** (``create=False``: `db check`, `trials`, the report) take no lock, do
  not switch the file's journal, and get `NoOptunaTables` for an empty database.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy
from optuna.storages._rdb import models
from sqlalchemy.pool import NullPool

from hpo.errors import NoOptunaTables, StorageError
from hpo.workers.lock import DatabaseLock
from hpo.workers.url import StorageUrl

__all__ = ["SQLITE_TIMEOUT_S", "ForeignDatabase", "prepared"]

SQLITE_TIMEOUT_S = 60
#: Optuna's tables and their key columns, which no schema version changed (a newer column
#: is Optuna's own "run `optuna storage upgrade`" case, not another application's table);
#: ``alembic_version`` is Alembic's, which Optuna uses
OPTUNA_TABLES = {t.name: {c.name for c in t.primary_key.columns} for t in models.BaseModel.metadata.sorted_tables} | {
    "alembic_version": {"version_num"}
}
_SCHEMA_LOCK = "hpo:optuna-schema"


class ForeignDatabase(StorageError):
    """The database holds another application's tables where Optuna's would go."""


def _foreign(tables: Mapping[str, set[str]], whole_file: bool) -> list[str]:
    """Tables that make the database someone else's: one named like Optuna's without its
    columns, or (a file, which is one application's) any other."""
    return sorted(
        name
        for name, columns in tables.items()
        if (name in OPTUNA_TABLES and not OPTUNA_TABLES[name] <= columns)
        or (whole_file and name not in OPTUNA_TABLES and not name.startswith(("sqlite_", "_alembic_tmp_")))
    )


def _sqlite_tables(path: Path) -> dict[str, set[str]]:
    """Tables and columns of a SQLite file, read without writing (``mode=ro``)."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT_S)
        try:
            names = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
            return {n: {r[1] for r in con.execute("select * from pragma_table_info(?)", (n,))} for n in names}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        problem = f"cannot read {path} as a SQLite database ({exc})"
        raise StorageError(f"{problem} — give --storage a study's database") from None


def _server_tables(con: sqlalchemy.Connection) -> dict[str, set[str]]:
    inspector = sqlalchemy.inspect(con)
    names = [n for n in inspector.get_table_names() if n in OPTUNA_TABLES]
    return {n: {c["name"] for c in inspector.get_columns(n)} for n in names}


def _check(location: StorageUrl, tables: Mapping[str, set[str]], create: bool) -> None:
    foreign = _foreign(tables, whole_file=location.local)
    if foreign:
        where = location.path or location
        raise ForeignDatabase(
            f"{where} is not an Optuna database: it holds another application's tables ({', '.join(foreign)}) "
            "— hpo leaves it untouched; give the study its own database (--storage sqlite:///NEW.db)"
        )
    if not create and "studies" not in tables:
        raise NoOptunaTables(f"no Optuna tables in {location} — run `hpo search` first (or check --storage)")


@contextlib.contextmanager
def prepared(location: StorageUrl, driver_url: str, *, create: bool) -> Iterator[None]:
    """Check the database's tables, then (``create``) hold the schema lock while the ``with``
    body lets Optuna create or open its tables."""
    if location.path is not None:
        path = location.path
        if not path.is_file() and (not create or path.exists()):
            raise StorageError(f"no study database at {path} — run `hpo search` first (or check --storage)")
        _check(location, _sqlite_tables(path) if path.is_file() else {}, create)
        if not create:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with DatabaseLock(None, location, _SCHEMA_LOCK, what="lock to create the study database"):
            try:
                with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S) as journal:
                    journal.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
                journal.close()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open SQLite file {path} ({exc})") from None
            yield
        return
    engine = sqlalchemy.create_engine(driver_url, poolclass=NullPool)
    try:
        with engine.connect() as con:
            _check(location, _server_tables(con), create)
        if not create:
            yield
            return
        with DatabaseLock(engine, location, _SCHEMA_LOCK, what="lock to create Optuna's tables"):
            yield
    finally:
        engine.dispose()
