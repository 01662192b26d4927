"""`hpo.workers.url` (a storage URL parsed once) and `hpo.workers.secrets` (the one masking
function), without processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hpo.errors import StorageError
from hpo.workers.secrets import mask
from hpo.workers.url import parse_url, storage_override


def test_a_url_is_parsed_once_into_its_parts(tmp_path: Path) -> None:
    local = parse_url(f"sqlite:///{tmp_path / 'a.db'}")
    assert (local.kind, local.local, local.path) == ("sqlite", True, tmp_path / "a.db")
    server = parse_url("postgresql+psycopg://hpo:s3cr3t@db:5432/hpo?sslmode=require")
    assert (server.kind, server.local, server.path) == ("postgres", False, None)
    assert str(server) == server.shown == "postgresql+psycopg://hpo:***@db:5432/hpo?sslmode=require"
    assert "s3cr3t" not in repr(server)  # the URL with its password is for the driver only
    assert parse_url("postgres://u@h/d").kind == "postgres" and parse_url("mysql://u:pw@h/d").kind == "other"


@pytest.mark.parametrize("char", ["@", "/", "#", "?", " ", "{"])
def test_a_password_with_an_unescaped_delimiter_is_refused(char: str) -> None:
    with pytest.raises(StorageError) as err:
        parse_url(f"postgresql://hpo:Left{char}Right42@db:5432/hpo", "$HPO_STORAGE_URL")
    message = str(err.value)
    assert f"holds {char!r} unescaped" in message and "($HPO_STORAGE_URL)" in message
    assert "percent-encode" in message and "Left" not in message and "Right42@db" not in message


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://hpo:Left%2FRight42@db/hpo", ["Left%2FRight42", "Left/Right42"]),
        ("postgresql://:Left%40Right42@db/hpo", ["Left%40Right42", "Left@Right42"]),
        ("postgresql://hpo@db/hpo?password=Left%23Right42&sslmode=require", ["Left%23Right42", "Left#Right42"]),
        ("postgresql://hpo@db/hpo?sslmode=require&api_token=Left+Right42", ["Left+Right42", "Left Right42"]),
    ],
)
def test_a_secret_is_masked_wherever_it_appears(url: str, secrets: list[str]) -> None:
    """In the URL, and in any text afterwards, as written and percent-decoded."""
    location = parse_url(url)
    driver_says = f'FATAL: database "{secrets[-1]}" does not exist ({secrets[0]})'
    for text in (location.shown, mask(url), mask(driver_says)):
        assert not [s for s in secrets if s in text], text
    assert mask(driver_says) == 'FATAL: database "***" does not exist (***)'


def test_an_at_sign_in_the_query_is_not_taken_for_a_password() -> None:
    location = parse_url("postgresql://hpo@db:5432/hpo?application_name=me@laptop")
    assert location.shown == "postgresql://hpo@db:5432/hpo?application_name=me@laptop"


@pytest.mark.parametrize("port", ["54x32", "0", "70000", "-1"])
def test_a_port_must_be_a_number(port: str) -> None:
    with pytest.raises(StorageError, match=f"port '{port}' in storage URL postgresql://hpo:\\*\\*\\*@db:{port}/x"):
        parse_url(f"postgresql://hpo:pw@db:{port}/x")


def test_the_override_names_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_STORAGE_URL", "postgresql://u:a/b@h/d")
    with pytest.raises(StorageError, match=r"\(\$HPO_STORAGE_URL\)"):
        storage_override(None)
    assert storage_override("sqlite:///x.db") == "sqlite:///x.db"  # the flag comes first


def test_log_lines_and_tracebacks_of_the_cli_are_masked() -> None:
    """`mask_output` (called by the CLI): a log line and an uncaught exception carrying a
    parsed password print it masked."""
    code = (
        "import logging; from hpo.workers.url import parse_url; from hpo.workers.secrets import mask_output\n"
        "logging.basicConfig(); mask_output(); parse_url('postgresql://u:Left%2FRight42@h/d')\n"
        "logging.getLogger('x').warning('driver said Left/Right42')\n"
        "raise RuntimeError('driver said Left%2FRight42')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "RuntimeError: driver said ***" in proc.stderr, proc.stderr
    assert "WARNING:x:driver said ***" in proc.stderr and "Right42" not in proc.stderr


def test_short_passwords_are_masked_in_urls_only() -> None:
    parse_url("postgresql://u:pw@h/d")
    assert mask("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"
    assert mask("the pwd is not garbled") == "the pwd is not garbled"
