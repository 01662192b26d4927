"""Workers started together and the launcher's view of them, with real processes: several
processes creating the schema of a new database at the same instant, `hpo worker`s started
at once on a new Postgres database, the launcher's exit status when its workers fail or one
is SIGKILLed, and a `filelock.py` in the folder `hpo search --workers` runs from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from hpo.workers.launcher import exit_status
from tests.helpers import ROOT
from tests.helpers.studyfiles import write_study
from tests.helpers.workerkit import assert_complete_study, start_worker, trials_of, wait_mid_trial
from tests.test_api import BUILDER

#: opens the storage of argv[1] (creating its tables) at the wall-clock instant argv[2]
RACER = """
import sys, time
from hpo.workers.storage import make_storage
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
make_storage(sys.argv[1])
"""


def _race(url: str, n: int = 3) -> list[tuple[int, str]]:
    start = time.time() + 2.0  # every racer has imported hpo by then
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, url, str(start)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    return [(p.wait(timeout=120), p.communicate()[1]) for p in procs]


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_creating_a_new_schema_at_once_all_succeed(fresh_database: Callable[[], str], tmp_path: Path) -> None:
    """Optuna creates its tables check-then-create: unserialised, 1-2 of 3 processes failed
    with UniqueViolation pg_type_typname_nsp_index / "table studies already exists"."""
    for round_ in range(2):
        for url in (fresh_database(), f"sqlite:///{tmp_path / f'new-{round_}.db'}"):
            results = _race(url)
            assert all(code == 0 for code, _ in results), (round_, url, results)


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_started_at_once_on_a_new_database(
    fresh_database: Callable[[], str], synth_dir: Path, tmp_path: Path
) -> None:
    """The same with `hpo worker` processes (more rounds: BENCHMARKS.md, "Reliability")."""
    url = fresh_database()
    toml = write_study(tmp_path, "fresh", synth_dir, study={"n_trials": 1, "storage": url}, training={"max_epochs": 1})
    workers = [start_worker(toml, f"w{i}") for i in range(3)]
    outs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outs
    assert_complete_study(trials_of(toml, url), 1)


def test_the_launcher_exits_with_its_workers_worst_documented_code() -> None:
    assert exit_status([0, 0], study_done=True) == 0
    assert exit_status([75, 75], study_done=False) == 75
    assert exit_status([0, 75], study_done=False) == 75
    assert exit_status([75, 2], study_done=False) == 2  # bad input is permanent: retrying won't help
    assert exit_status([74, 75], study_done=False) == 74
    assert exit_status([1, 2], study_done=False) == 1  # a traceback: a bug
    assert exit_status([0, -signal.SIGKILL], study_done=False) == 137  # killed outright, work left
    assert exit_status([0, 143], study_done=False) == 143
    assert exit_status([0, -signal.SIGKILL], study_done=True) == 0  # its trial was retried; the study is done
    assert exit_status([0, 3], study_done=True) == 1  # not a code hpo documents: reported as 1


def _search(toml: Path, *args: str, cwd: Path = ROOT, hpo: list[str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*(hpo or [sys.executable, "-m", "hpo"]), "search", str(toml), "--workers", "2", "--no-progress", *args],
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_workers_finding_the_database_closed_make_the_launcher_exit_75(
    fresh_database: Callable[[], str], pg_url: str, synth_dir: Path, tmp_path: Path
) -> None:
    url = fresh_database()
    toml = write_study(tmp_path, "closed", synth_dir, study={"n_trials": 2, "storage": url})
    search = _search(toml)
    assert search.stdout is not None
    seen = []
    while not (seen and seen[-1].startswith("Launching 2 workers")):  # the study exists; no worker has connected
        seen.append(search.stdout.readline())
        assert seen[-1], seen
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'alter database "{url.rsplit("/", 1)[1]}" allow_connections false')
    out = "".join(seen) + search.communicate(timeout=300)[0]
    assert search.returncode == 75, out
    assert "workers exited with errors: w0=75, w1=75" in out and "Traceback" not in out


@pytest.mark.slow
def test_a_launch_from_a_dataset_folder_with_a_worker_sigkilled(synth_dir: Path, tmp_path: Path) -> None:
    """`hpo search --workers 2` run from a downloaded dataset's folder: its ``filelock.py``
    never runs in a worker, while the builder the study names is still found there, as
    documented. One worker is SIGKILLed mid-trial: its peer retries the trial and finishes the
    study, so the launcher exits 0 (it said 1) and says what happened."""
    here, marker = tmp_path / "downloaded", tmp_path / "ran"
    here.mkdir()
    (here / "filelock.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (here / "cwdnet.py").write_text(BUILDER)
    (tmp_path / "studies").mkdir()
    toml = write_study(
        tmp_path / "studies",
        "cwd",
        synth_dir,
        study={"n_trials": 3, "heartbeat_interval": 1, "grace_period": 3},
        model={"builder": "cwdnet:build"},
        search={"depth": None, "base_filters": None, "dense_units": None},
        training={"max_epochs": 4},
    )
    url = f"sqlite:///{tmp_path / 'studies' / 'cwd.db'}"
    search = _search(toml, cwd=here, hpo=[str(Path(sys.executable).with_name("hpo"))])
    victim = wait_mid_trial(toml, url, "w1", timeout=300)
    os.kill(int(str(victim.user_attrs["worker"]).rsplit(":", 1)[1]), signal.SIGKILL)
    out = search.communicate(timeout=600)[0]
    assert search.returncode == 0, out
    assert "worker w1 was killed by SIGKILL" in out and "3/3 trials finished" in out
    assert not marker.exists(), out
    trials = trials_of(toml, url)
    assert_complete_study(trials, 3)
    assert all("units" in t.params for t in trials)  # cwdnet:build ran in the workers
