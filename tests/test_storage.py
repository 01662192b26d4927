from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hpo.storage import StorageError, make_storage, mask_url, sqlite_path


def test_password_is_masked() -> None:
    assert mask_url("postgresql://hpo:s3cr3t@db:5432/hpo") == "postgresql://hpo:***@db:5432/hpo"
    assert mask_url("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'study.db'}"
    storage = make_storage(url)
    assert storage.get_all_studies() == []
    path = sqlite_path(url)
    assert path is not None and path.is_file()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="unsupported storage URL mysql://u:\\*\\*\\*@h/db"):
        make_storage("mysql://u:pw@h/db")


def test_unreachable_postgres_hides_the_password() -> None:
    with pytest.raises(StorageError) as err:
        make_storage("postgresql://hpo:topsecret@127.0.0.1:1/hpo")
    assert "topsecret" not in str(err.value) and "***" in str(err.value)
