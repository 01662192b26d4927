"""`make_storage(url)`: the Optuna storage behind a study.

- ``sqlite:///path.db`` (default): one file, WAL journal and a busy timeout so a reader (the
  dashboard) and the search don't lock each other out.
- ``postgresql://user:pass@host/db``: SQLAlchemy + psycopg2 with ``pool_pre_ping``.

Passwords never appear in messages: use `mask_url`.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from hpo.errors import HpoError

__all__ = ["StorageError", "make_storage", "mask_url", "sqlite_path"]

SQLITE_TIMEOUT_S = 60


class StorageError(HpoError):
    """The storage URL is malformed or the database cannot be reached."""


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for other back ends."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def make_storage(url: str) -> RDBStorage:
    """Open (and create tables in) the storage at ``url``."""
    engine_kwargs: dict[str, object]
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S) as con:
                con.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite file {path} ({exc})") from None
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif url.startswith(("postgresql://", "postgresql+psycopg2://")):
        engine_kwargs = {"pool_pre_ping": True}
    else:
        raise StorageError(f"unsupported storage URL {mask_url(url)} — use sqlite:///FILE or postgresql://…")
    try:
        return RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:  # SQLAlchemy/psycopg2 raise many types for connection problems
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open storage {mask_url(url)} ({mask_url(first)[:200]})") from None


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(s.study_name for s in storage.get_all_studies())
