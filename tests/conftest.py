"""Shared fixtures. Under CI=true, missing shared data or services fail instead of skipping."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ANIMALS10_SAMPLE, CIFAR10_MINI, PG_URL, require, run_hpo

pytest_plugins = ["tests.helpers.workerkit"]  # the pg_study fixture


@pytest.fixture(scope="session")
def cifar10_mini() -> Path:
    require(CIFAR10_MINI.is_dir(), f"shared dataset missing: {CIFAR10_MINI}")
    return CIFAR10_MINI


@pytest.fixture(scope="session")
def animals10_sample() -> Path:
    require(ANIMALS10_SAMPLE.is_dir(), f"shared dataset missing: {ANIMALS10_SAMPLE}")
    return ANIMALS10_SAMPLE


@pytest.fixture(scope="session")
def searched(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real tiny study on SQLite (searched through the CLI, with pruned trials) and its export
    with TFLite variants; shared by the export, report and dashboard tests."""
    from tests.helpers.studyfiles import write_study

    tmp = tmp_path_factory.mktemp("searched")
    toml = write_study(tmp, "tiny", synth_dir, study={"n_trials": 6}, training={"max_epochs": 6})
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    out = tmp / "models" / "tiny"
    proc = run_hpo("export", toml, "--out", out, "--tflite", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"SavedModel: {out / 'saved_model'}" in proc.stdout
    return {"toml": toml, "out": out, "prepared": tmp / "tiny" / "prepared-16px", "db": tmp / "tiny.db"}


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hpo.data.synth import synth_dataset

    out = tmp_path_factory.mktemp("synth")
    synth_dataset(out, classes=4, per_class=20, image_size=32, seed=1)
    return out


@pytest.fixture(scope="session")
def prepared(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`synth_dir` prepared at 32 px (train/val/test split)."""
    from hpo.data import prepare

    out = tmp_path_factory.mktemp("prep")
    prepare(synth_dir, out, image_size=32, progress=False)
    return out


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The real Postgres server (CI starts it); missing → skip locally, fail under CI."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        require(False, f"Postgres not reachable at {PG_URL}: {str(exc).strip()}")
    return PG_URL


@pytest.fixture(autouse=True)
def _postgres_claim(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses the Postgres server holds a shared claim on it for its duration; a test
    that stops the server (`tests.helpers.faultkit.postgres_down`) waits for the others' claims."""
    from tests.helpers.faultkit import postgres_alone, postgres_in_use

    if request.node.get_closest_marker("postgres_outage"):
        with postgres_alone():
            yield
    elif "pg_url" in request.fixturenames:
        with postgres_in_use():
            yield
            _close_unreachable_connections()
    else:
        yield


def _close_unreachable_connections() -> None:
    """Each `optuna.load_study(storage=URL)` in a test opens an engine whose pooled connection stays
    open until the engine is garbage-collected (they sit in reference cycles): over a whole suite two
    test processes held 100 idle connections, Postgres' limit, and later tests met "too many clients"."""
    gc.collect()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), every test that uses the
    session-wide `searched` study runs in one worker, so that study is searched once, not per worker."""
    for item in items:
        if "searched" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("searched"))
