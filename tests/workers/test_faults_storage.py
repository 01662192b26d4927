"""Storage URLs and files as users and operators get them wrong, through the real CLI: a
password with URL delimiters in it (every command that takes a storage), a password echoed in
a driver's message, a non-numeric port, another application's SQLite file, a database that is
not accepting connections. Nothing may print a secret, write to a file that is not hpo's, or
end in a traceback."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import optuna
import psycopg
import pytest

from tests.helpers import ROOT, assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study
from tests.helpers.workerkit import with_password

#: a password holding every character a URL parser splits on
SECRET = "Alpha/Bravo#Charlie?Delta Echo@Foxtrot"
PIECES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")


def _no_secret(proc: subprocess.CompletedProcess[str] | str, *more: str) -> None:
    out = proc if isinstance(proc, str) else proc.stdout + proc.stderr
    leaked = [p for p in (*PIECES, quote(SECRET, safe=""), *more) if p in out]
    assert not leaked, (leaked, out)


def _study(tmp_path: Path, synth_dir: Path, name: str = "s", **study: object) -> Path:
    return write_study(tmp_path, name, synth_dir, study={"n_trials": 1, **study}, training={"max_epochs": 1})


#: the eight commands that take a storage, each as a user would type it
COMMANDS: dict[str, tuple[str, ...]] = {
    "search": ("search", "{toml}", "--no-progress"),
    "worker": ("worker", "{toml}"),
    "trials": ("trials", "{toml}"),
    "best": ("best", "{toml}"),
    "export": ("export", "{toml}", "--out", "{tmp}/model", "--no-progress"),
    "report": ("report", "{toml}", "--out", "{tmp}/report.html"),
    "dashboard": ("dashboard", "{toml}", "--port", "{port}"),
    "db check": ("db", "check"),
}


def _args(command: str, toml: Path, port: int = 8080) -> list[str]:
    return [a.format(toml=toml, tmp=toml.parent, port=port) for a in COMMANDS[command]]


@pytest.mark.postgres
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unescaped_password_is_refused_by_every_command(
    command: str, pg_url: str, synth_dir: Path, tmp_path: Path
) -> None:
    """From $HPO_STORAGE_URL: one line saying how to percent-encode, before any work, no piece
    of the password anywhere (the driver would have been handed host 'Foxtrot@127.0.0.1')."""
    toml = _study(tmp_path, synth_dir)
    proc = run_hpo(*_args(command, toml), env={"HPO_STORAGE_URL": with_password(pg_url, SECRET)})
    assert_user_error(proc, "percent-encode", "%2F", "$HPO_STORAGE_URL")
    _no_secret(proc)
    assert not (tmp_path / "s").exists()  # refused before the data was prepared


@pytest.mark.postgres
def test_an_unescaped_password_on_the_command_line_is_refused(pg_url: str, synth_dir: Path, tmp_path: Path) -> None:
    url = with_password(pg_url, "pass word")
    for args in (("db", "check", url), ("trials", str(_study(tmp_path, synth_dir)), "--storage", url)):
        proc = run_hpo(*args)
        assert_user_error(proc, "percent-encode", "' '", "%20")
        assert "pass word" not in proc.stdout + proc.stderr and "word@" not in proc.stderr


@pytest.mark.postgres
def test_a_password_in_the_drivers_own_words_is_masked(pg_url: str) -> None:
    """The server says 'database "NoSuchDb42" does not exist'; that text is the password
    (percent-decoded: %44 is 'D'), so it is masked there too."""
    url = with_password(pg_url, "NoSuch%44b42").rsplit("/", 1)[0] + "/NoSuchDb42"
    proc = run_hpo("db", "check", url)
    assert_user_error(proc, 'database "***" does not exist')
    assert "NoSuchDb42" not in proc.stderr and "NoSuch%44b42" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dashboard_banner(toml: Path, env: dict[str, str]) -> str:
    """Start `hpo dashboard`, read until its banner, stop it with Ctrl-C; all it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", *_args("dashboard", toml, _free_port())],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline()]
    while lines[-1] and "optuna-dashboard for" not in lines[-1]:
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    return "".join(lines) + rest


@pytest.mark.postgres
@pytest.mark.slow
def test_an_encoded_password_works_and_is_never_printed(pg_url: str, synth_dir: Path, tmp_path: Path) -> None:
    """The percent-encoded password is accepted (the server is trust-auth: it ignores it), and
    neither its encoded nor its decoded text appears in anything the eight commands print."""
    url = with_password(pg_url, quote(SECRET, safe=""))
    toml = _study(tmp_path, synth_dir, name=f"enc-{os.getpid()}")
    env = {"HPO_STORAGE_URL": url}
    try:
        for command in ("search", "worker", "trials", "best", "report", "export"):
            proc = run_hpo(*_args(command, toml), env=env)
            assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
            _no_secret(proc)
        banner = _dashboard_banner(toml, env)
        assert "optuna-dashboard for postgresql://postgres:***@" in banner, banner
        _no_secret(banner)
        proc = run_hpo("db", "check", url)
        assert proc.returncode == 0 and proc.stdout.startswith("ok: postgresql://postgres:***@127.0.0.1"), proc
        _no_secret(proc)
    finally:
        optuna.delete_study(study_name=toml.stem, storage=pg_url)


@pytest.mark.parametrize("command", ["db check", "trials"])
def test_a_non_numeric_port_is_one_line(command: str, synth_dir: Path, tmp_path: Path) -> None:
    url = "postgresql://hpo:pw@db.example:54x32/hpo"
    proc = run_hpo(*_args(command, _study(tmp_path, synth_dir)), env={"HPO_STORAGE_URL": url})
    assert_user_error(proc, "port '54x32'", "postgresql://hpo:***@db.example:54x32/hpo")


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file in ``folder``: its hash and mtime."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())
    }


def _foreign_sqlite(path: Path) -> None:
    """Another application's database, with a table that happens to be called ``studies``."""
    with sqlite3.connect(path) as con:
        con.execute("create table studies (id integer primary key, title text, owner text)")
        con.execute("insert into studies (title, owner) values ('thesis', 'ann')")
    con.close()


@pytest.mark.parametrize("command", ["db check", "trials", pytest.param("search", marks=pytest.mark.slow), "dashboard"])
def test_another_applications_sqlite_file_is_refused_untouched(command: str, synth_dir: Path, tmp_path: Path) -> None:
    db_folder = tmp_path / "theirs"
    db_folder.mkdir()
    app = db_folder / "app.db"
    _foreign_sqlite(app)
    before = _fingerprint(db_folder)
    url = f"sqlite:///{app}"
    args = _args(command, _study(tmp_path, synth_dir)) + ([url] if command == "db check" else ["--storage", url])
    proc = run_hpo(*args)
    assert_user_error(proc, str(app), "not an Optuna database", "studies", sole=command != "search")
    assert _fingerprint(db_folder) == before  # not a byte written, no journal or lock file beside it


@pytest.mark.postgres
def test_a_postgres_table_named_like_optunas_but_not_its_is_refused(
    fresh_database: Callable[[], str],
) -> None:
    """Other tables are fine in a shared server database; a ``studies`` that is not Optuna's is
    not (Optuna would fail on it with a traceback, or write beside it)."""
    url = fresh_database()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("create table studies (id serial primary key, title text)")
    for args in (("db", "check"), ("dashboard", "--port", str(_free_port()))):  # the dashboard would create
        assert_user_error(run_hpo(*args, env={"HPO_STORAGE_URL": url}), "not an Optuna database", "(studies)")
    with psycopg.connect(url) as con:
        tables = con.execute("select tablename from pg_tables where schemaname = 'public'").fetchall()
    assert tables == [("studies",)]


def test_db_check_changes_no_file(tmp_path: Path) -> None:
    """On hpo's own study database (WAL) and on plain Optuna's (rollback journal), `db check`
    reads and changes nothing: same bytes, same mtime, no file added."""
    hpo_db, plain_db = tmp_path / "hpo" / "study.db", tmp_path / "plain" / "study.db"
    proc = run_hpo("db", "check", f"sqlite:///{hpo_db}")
    assert proc.returncode == 2  # a missing file is an error, not created
    from hpo.workers.storage import make_storage

    plain_db.parent.mkdir()
    for storage, name in (
        (make_storage(f"sqlite:///{hpo_db}"), "mine"),
        (optuna.storages.RDBStorage(f"sqlite:///{plain_db}"), "plain"),
    ):
        optuna.create_study(study_name=name, storage=storage)
        storage.engine.dispose()  # closed: the WAL is checkpointed and gone, as after a search
    for db, name in ((hpo_db, "mine"), (plain_db, "plain")):
        before = _fingerprint(db.parent)
        proc = run_hpo("db", "check", f"sqlite:///{db}")
        assert proc.returncode == 0 and f"studies (1): {name}" in proc.stdout, proc.stderr
        assert _fingerprint(db.parent) == before, db
    with sqlite3.connect(plain_db) as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "delete"


@pytest.mark.postgres
def test_a_database_not_accepting_connections_at_start_is_75(
    fresh_database: Callable[[], str], pg_url: str, synth_dir: Path, tmp_path: Path
) -> None:
    """Exit 75 (retry later), as the same error is mid-run (an outage), not 2 (bad input)."""
    url = fresh_database()
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'alter database "{url.rsplit("/", 1)[1]}" allow_connections false')
    for command in ("db check", "trials"):
        proc = run_hpo(*_args(command, _study(tmp_path, synth_dir)), env={"HPO_STORAGE_URL": url})
        assert_user_error(proc, "not currently accepting connections", code=75)
