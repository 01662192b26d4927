from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hpo.workers.storage import NoOptunaTables, StorageError, make_storage, mask_url, server_version
from tests.helpers import run_hpo


def test_password_is_masked() -> None:
    assert mask_url("postgresql://hpo:s3cr3t@db:5432/hpo") == "postgresql://hpo:***@db:5432/hpo"
    assert mask_url("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'study.db'}"
    storage = make_storage(url)
    assert storage.get_all_studies() == []
    path = storage.location.path
    assert path is not None and path.is_file() and storage.location.local
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="unsupported storage URL mysql://u:\\*\\*\\*@h/db"):
        make_storage("mysql://u:pw@h/db")


def test_unreachable_postgres_hides_the_password() -> None:
    with pytest.raises(StorageError) as err:
        make_storage("postgresql://hpo:topsecret@127.0.0.1:1/hpo")
    assert "topsecret" not in str(err.value) and "***" in str(err.value)
    assert err.value.exit_code == 75  # down or unreachable: worth retrying, unlike a typo (2)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://hpo:s3cr3t@db:5432/hpo", "s3cr3t"),
        ("postgresql://:s3cr3t@db/hpo", "s3cr3t"),
        ("postgresql://hpo:p@ss@db/hpo", "p@ss"),  # a raw @ in the password: the host is after the last @
        ("postgresql://hpo@db/hpo?password=s3cr3t&sslmode=require", "s3cr3t"),
        ("cannot open postgresql+psycopg://u:s3cr3t@h/db (timeout)", "s3cr3t"),
    ],
)
def test_every_password_form_is_masked(url: str, secret: str) -> None:
    shown = mask_url(url)
    assert secret not in shown and "ss@" not in shown and "***" in shown, shown


def test_read_only_open_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(StorageError, match=r"no study database at .*typo\.db"):
        make_storage(f"sqlite:///{missing}", create=False)
    assert not missing.exists()
    sqlite3.connect(tmp_path / "empty.db").close()  # a database, but not Optuna's
    with pytest.raises(NoOptunaTables, match="no Optuna tables in sqlite:///"):
        make_storage(f"sqlite:///{tmp_path / 'empty.db'}", create=False)
    with sqlite3.connect(tmp_path / "empty.db") as con:
        assert con.execute("select count(*) from sqlite_master").fetchone()[0] == 0


def test_a_missing_driver_names_what_to_install() -> None:
    with pytest.raises(StorageError, match="Postgres driver pg8000 is not installed — pip install pg8000"):
        make_storage("postgresql+pg8000://u:pw@127.0.0.1:1/db")


@pytest.mark.postgres
def test_plain_postgres_url_works_as_is(pg_url: str) -> None:
    """The URL users give plain Optuna and optuna-dashboard works here too (psycopg 3)."""
    storage = make_storage(pg_url)
    assert storage.engine.dialect.driver == "psycopg"
    assert "PostgreSQL" in server_version(storage)


@pytest.mark.postgres
def test_db_check_reads_the_url_from_the_environment(pg_url: str) -> None:
    proc = run_hpo("db", "check", env={"HPO_STORAGE_URL": pg_url})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: postgresql://postgres@127.0.0.1:5432/test")


@pytest.mark.postgres
def test_a_worker_keeps_one_postgres_connection_open(pg_url: str) -> None:
    """Three threads asking and telling at once may open more, but afterwards one stays open."""
    import uuid

    import optuna
    import psycopg

    tag = f"hpo-test-{uuid.uuid4().hex[:8]}"
    storage = make_storage(f"{pg_url}?application_name={tag}", heartbeat_interval=1, grace_period=4)
    study = optuna.create_study(study_name=tag, storage=storage)

    def open_connections() -> int:
        with psycopg.connect(pg_url) as con:
            row = con.execute("select count(*) from pg_stat_activity where application_name = %s", (tag,)).fetchone()
        return int(row[0]) if row else 0

    try:
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=12, n_jobs=3)
        assert len(study.trials) == 12
        assert open_connections() == 1
    finally:
        optuna.delete_study(study_name=tag, storage=storage)
        storage.engine.dispose()
    assert open_connections() == 0
