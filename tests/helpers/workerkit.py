"""Helpers for tests that run real worker processes on a real study (SQLite or Postgres)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from tests.helpers import ROOT
from tests.helpers.studyfiles import write_study

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture
def pg_study(pg_url: str, synth_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Write a study file on Postgres with a unique name; delete the study afterwards."""
    with unique_studies(pg_url) as new_name:

        def make(**study: object) -> Path:
            fields = {"storage": pg_url, "heartbeat_interval": 1, "grace_period": 4, **study}
            return write_study(tmp_path, new_name(), synth_dir, study=fields, training={"max_epochs": 5})

        yield make


@contextlib.contextmanager
def unique_studies(url: str) -> Iterator[Callable[[], str]]:
    """``new_name()`` gives a unique study name; every study so named is deleted from ``url`` after."""
    names: list[str] = []

    def new_name() -> str:
        names.append(f"t-{uuid.uuid4().hex[:10]}")
        return names[-1]

    try:
        yield new_name
    finally:
        with opened(url) as storage:
            for name in names:
                with contextlib.suppress(KeyError):
                    optuna.delete_study(study_name=name, storage=storage)


@contextlib.contextmanager
def opened(url: str) -> Iterator[optuna.storages.RDBStorage]:
    """Optuna's storage at ``url``, its connections closed on leaving (a test polling a study opens
    one per poll otherwise, each holding a Postgres connection until garbage collection)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        yield storage
    finally:
        storage.engine.dispose()


@pytest.fixture
def fresh_database(pg_url: str) -> Iterator[Callable[[], str]]:
    """``make()`` creates a new, empty Postgres database (``CREATE DATABASE`` with a unique name)
    and returns its URL; every database made is dropped afterwards, connections or not."""
    import psycopg

    made: list[str] = []

    def make() -> str:
        name = f"hpo_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(f'create database "{name}"')
        made.append(name)
        return f"{pg_url.rsplit('/', 1)[0]}/{name}"  # the server of pg_url, the new database

    yield make
    with psycopg.connect(pg_url, autocommit=True) as con:
        for name in made:
            con.execute(f'drop database if exists "{name}" with (force)')


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (inserted as given, escaped or not) after its user name."""
    return re.sub(r"^(\w[\w+.-]*://)([^:@/]*)(?::[^@]*)?@", lambda m: f"{m[1]}{m[2]}:{password}@", url, count=1)


def trials_of(toml: Path, url: str) -> list[FrozenTrial]:
    with opened(url) as storage:
        try:
            return optuna.load_study(study_name=toml.stem, storage=storage).get_trials()
        except KeyError:  # the worker has not created the study yet
            return []


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(toml: Path, worker_id: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo", "worker", str(toml), "--id", worker_id, "--threads", "1", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_mid_trial(toml: Path, url: str, worker_id: str, timeout: float = 120) -> FrozenTrial:
    """The trial ``worker_id`` is training, once it has finished at least one epoch."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t in trials_of(toml, url):
            mine = str(t.user_attrs.get("worker", "")).startswith(f"{worker_id}@")
            if mine and t.state == TrialState.RUNNING and t.intermediate_values:
                return t
        time.sleep(0.2)
    raise AssertionError(f"{worker_id} never got mid-trial")


def assert_complete_study(trials: list[FrozenTrial], cap: int) -> None:
    assert len({t.number for t in trials}) == len(trials)
    assert sum(t.state in FINISHED for t in trials) == cap
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_proxy(url: str, port: int, log: Path, timeout: float = 60) -> subprocess.Popen[bytes]:
    """`hpo proxy --storage url --port port`, once it serves (its output goes to ``log``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "proxy", "--storage", url, "--port", str(port)],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    end = time.monotonic() + timeout
    while "served on" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"hpo proxy did not start: {log.read_text()}")
        time.sleep(0.1)
    return proc


def start_simworker(toml: Path, worker_id: str, *extra: str, log: Path) -> subprocess.Popen[bytes]:
    """A simulated worker (`tests.helpers.simworker`: hpo's worker path, no TensorFlow)."""
    cmd = [sys.executable, "-m", "tests.helpers.simworker", str(toml), "--id", worker_id, *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
