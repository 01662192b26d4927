"""Shared fixtures. Under CI=true, missing shared data or services fail instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.workerkit"]  # the pg_study fixture

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HPO_SHARED", ROOT.parent / "shared"))
CIFAR10_MINI = SHARED / "datasets" / "cifar10-mini"
ANIMALS10_SAMPLE = SHARED / "datasets" / "animals10-sample"


def require(condition: bool, reason: str, *, strict: bool | None = None) -> None:
    """Skip when ``condition`` is false — but fail where it must be present: under CI by default
    (``strict``: whether this machine must have it, e.g. a GPU runner that sets HPO_REQUIRE_GPU=1)."""
    if condition:
        return
    if strict if strict is not None else os.environ.get("CI") == "true":
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cifar10_mini() -> Path:
    require(CIFAR10_MINI.is_dir(), f"shared dataset missing: {CIFAR10_MINI}")
    return CIFAR10_MINI


@pytest.fixture(scope="session")
def animals10_sample() -> Path:
    require(ANIMALS10_SAMPLE.is_dir(), f"shared dataset missing: {ANIMALS10_SAMPLE}")
    return ANIMALS10_SAMPLE


def run_hpo(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter (``python -m hpo``); ``timeout`` in seconds."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hpo", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=timeout,
    )


def assert_user_error(
    proc: subprocess.CompletedProcess[str], *fragments: str, sole: bool = True, code: int = 2
) -> None:
    """Exit ``code`` (2: bad input; 75: storage down), one ``hpo: error:`` line naming
    ``fragments`` ending stderr, no traceback.

    ``sole``: stderr holds nothing else (errors found before any work starts). Errors found
    after work ran follow its log lines (TensorFlow prints some that no setting silences).
    """
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("hpo: error: "), proc.stderr
    assert sum(ln.startswith("hpo: error:") for ln in lines) == 1, proc.stderr
    if sole:
        assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


@pytest.fixture(scope="session")
def searched(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real tiny study on SQLite (searched through the CLI, with pruned trials) and its export
    with TFLite variants; shared by the export, report and dashboard tests."""
    from tests.studyfiles import write_study

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


PG_URL = os.environ.get("HPO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The real Postgres server (CI starts it); missing → skip locally, fail under CI."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        require(False, f"Postgres not reachable at {PG_URL}: {str(exc).strip()}")
    return PG_URL


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), every test that uses the
    session-wide `searched` study runs in one worker, so that study is searched once, not per worker."""
    for item in items:
        if "searched" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("searched"))
