"""Helpers shared by the tests (the fixtures are in tests/conftest.py): where the shared data
and the Postgres server are, `require` (skip locally, fail under CI), the real CLI in a fresh
interpreter, and the one-line error contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["ANIMALS10_SAMPLE", "CIFAR10_MINI", "PG_URL", "ROOT", "SHARED", "assert_user_error", "require", "run_hpo"]

ROOT = Path(__file__).resolve().parents[2]
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


PG_URL = os.environ.get("HPO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
