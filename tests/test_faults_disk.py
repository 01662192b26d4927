"""A full disk, for real: a small tmpfs filled to a few KiB (`tests.helpers.faultkit`), then `hpo data
prepare`, `hpo search` and `hpo export` run on it as real processes. Each says so in one line
naming the path and the bytes it needed, exits 74 (EX_IOERR), loses nothing it had and leaves
no process behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from hpo import errors
from hpo.data.cache import SCRATCH_FILES
from hpo.data.synth import synth_dataset
from hpo.fsutil import checksum_problem, write_json
from hpo.workers.outage import storage_full
from tests.helpers import ROOT, assert_user_error
from tests.helpers.faultkit import (
    crash_at,
    fill_disk,
    free_bytes,
    left_behind,
    marked,
    postgres_tablespace,
    run_hpo_marked,
    tmpfs,
)
from tests.helpers.studyfiles import write_study

EX_IOERR = 74
#: 64 files: enough that `prepare` decodes them in a pool of processes
POOL_DATASET = {"classes": 16, "per_class": 4, "image_size": 16}
ROW_BYTES = 16 * 16 * 3


@pytest.mark.parametrize(("leave", "file"), [(16 << 10, SCRATCH_FILES[0]), (64 << 10, SCRATCH_FILES[1])])
def test_prepare_on_a_full_disk_is_one_line_and_leaves_no_process(tmp_path: Path, leave: int, file: str) -> None:
    """16 KiB free: the scratch rows (49 KiB) do not fit; 64 KiB: they do, the images.npy
    beside them does not. Before: SIGBUS (exit 135, no message), two decode processes and
    the resource tracker left running."""
    synth_dataset(tmp_path / "src", **POOL_DATASET)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        fill_disk(disk, leave=leave)
        free = free_bytes(disk)
        args = ("data", "prepare", tmp_path / "src", "--out", disk / "prep", "--image-size", "16", "--workers", "3")
        proc, left = run_hpo_marked(*args, "--no-progress")
        assert not left, f"{len(left)} processes left behind"
        need = 64 * ROW_BYTES + 128  # rows and the .npy header
        assert_user_error(proc, f"disk full: {disk / 'prep' / file}", f"needs {need:,} bytes", code=EX_IOERR)
        assert sorted(p.name for p in (disk / "prep").iterdir()) == [".hpo-prepared", ".prepare-lock"]  # no scratch
        assert (
            free_bytes(disk) == free - (disk / "prep" / ".hpo-prepared").stat().st_blocks * 512
        )  # all else given back


def test_decode_processes_die_with_a_killed_prepare(tmp_path: Path) -> None:
    """SIGKILL (the OOM killer, `docker kill`) while the pool decodes: its processes go too."""
    synth_dataset(tmp_path / "src", **POOL_DATASET)
    args = ("data", "prepare", tmp_path / "src", "--out", tmp_path / "prep", "--image-size", "16", "--workers", "2")
    proc, left = run_hpo_marked(*args, "--no-progress", env=crash_at("decoding"))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not left, f"{len(left)} processes left behind"


def test_json_written_to_a_full_disk_is_a_disk_full_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        (disk / "old.json").write_text('{"kept": true}\n')
        fill_disk(disk, leave=0)
        with pytest.raises(errors.DiskFull, match=r"disk full: .*old\.json \(needs 32,\d{3} bytes"):
            write_json(disk / "old.json", {"x": "y" * 32_000})
        assert (disk / "old.json").read_text() == '{"kept": true}\n'  # the atomic write left it alone
        assert sorted(p.name for p in disk.iterdir() if not p.name.startswith(".filler")) == ["old.json"]


def _full_write(url: str, disk: Path, tablespace: str = "") -> sqlalchemy.exc.OperationalError:
    """The database's own error for an insert into a table on the full ``disk``."""
    engine = sqlalchemy.create_engine(url)
    where = f" TABLESPACE {tablespace}" if tablespace else ""
    try:
        with engine.begin() as con:
            con.execute(sqlalchemy.text(f"CREATE TABLE full_disk (x TEXT){where}"))
        fill_disk(disk, leave=0)
        with pytest.raises(sqlalchemy.exc.OperationalError) as full, engine.begin() as con:
            for _ in range(100):
                con.execute(sqlalchemy.text("INSERT INTO full_disk VALUES (:x)"), {"x": "x" * 100_000})
        return full.value
    finally:
        engine.dispose()


def test_sqlite_full_is_a_full_disk_not_an_outage(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        assert storage_full(_full_write(f"sqlite:///{disk / 'x.db'}", disk))
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'no' / 'x.db'}")  # an error that is no full disk
    with pytest.raises(sqlalchemy.exc.OperationalError) as other:
        engine.connect()
    assert not storage_full(other.value)


@pytest.mark.postgres
def test_postgres_full_is_a_full_disk_not_an_outage(pg_url: str) -> None:
    """The server's real "could not extend file" (53100), from a tablespace on a tmpfs."""
    with postgres_tablespace(pg_url) as (space, disk):
        url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        assert storage_full(_full_write(url, disk, space))
    with pytest.raises(sqlalchemy.exc.OperationalError) as down:
        sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test").connect()
    assert not storage_full(down.value)


def test_search_whose_data_cache_meets_a_full_disk(tmp_path: Path) -> None:
    synth_dataset(tmp_path / "src", **POOL_DATASET)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        fill_disk(disk, leave=16 << 10)
        toml = write_study(tmp_path, "full", tmp_path / "src", data={"prepared": str(disk / "prep")})
        proc, left = run_hpo_marked("search", toml, "--no-progress")
        assert not left, f"{len(left)} processes left behind"
        assert_user_error(proc, f"disk full: {disk / 'prep'}", "bytes", sole=False, code=EX_IOERR)


@pytest.mark.slow
def test_sqlite_full_mid_search_is_an_error_not_an_outage(tmp_path: Path) -> None:
    """Before: "stopped answering ... storage is back" every few seconds, for ever."""
    synth_dataset(tmp_path / "src", classes=2, per_class=8, image_size=16)
    with tmpfs(tmp_path / "disk", "2m") as disk:
        study = {"n_trials": 50, "storage": f"sqlite:///{disk / 'full.db'}", "enqueue_baseline": False}
        toml = write_study(tmp_path, "full", tmp_path / "src", study=study, training={"max_epochs": 3})
        env, token = marked()
        search = subprocess.Popen(
            [sys.executable, "-m", "hpo", "search", str(toml), "--no-progress"],
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert search.stdout is not None
        lines = []
        for line in search.stdout:  # wait for the first finished trial, then fill the disk
            lines.append(line)
            if line.startswith("trial "):
                fill_disk(disk, leave=0)
                break
        try:
            out, _ = search.communicate(timeout=120)
        finally:
            search.kill()
        out = "".join(lines) + out
        time.sleep(0.5)
        assert not left_behind(token)
        assert search.returncode == EX_IOERR, out
        assert out.count("stopped answering") == 0, out
        errors = [ln for ln in out.splitlines() if ln.startswith("hpo: error:")]
        assert len(errors) == 1 and f"disk full: {disk / 'full.db'}" in errors[0], out
        assert "Traceback" not in out
        with sqlite3.connect(disk / "full.db") as con:  # nothing lost: every finished trial is there
            assert con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0] >= 1


@pytest.mark.slow
def test_export_on_a_full_disk_keeps_the_old_export(searched: dict[str, Path], tmp_path: Path) -> None:
    """Before: a TensorFlow traceback (the old export survived)."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(searched["toml"].read_text())
    with sqlite3.connect(searched["db"]) as src, sqlite3.connect(tmp_path / "tiny.db") as dst:
        src.backup(dst)  # the shared study stays untouched
    with tmpfs(tmp_path / "disk", "20m") as disk:
        old = disk / "model"
        subprocess.run(["cp", "-r", str(searched["out"]), str(old)], check=True)
        fill_disk(disk, leave=64 << 10)
        proc, left = run_hpo_marked("export", toml, "--out", old, "--no-progress", "--epochs", "1", timeout=300)
        assert not left, f"{len(left)} processes left behind"
        assert_user_error(proc, f"disk full: {disk}", "bytes", sole=False, code=EX_IOERR)
        assert checksum_problem(old, lambda rel: True) is None
        assert sorted(p.name for p in disk.iterdir() if not p.name.startswith(".filler")) == [".model.lock", "model"]
