"""Fault injection for tests, with real parts: a small tmpfs of its own, a disk filled to N
bytes, a read-only bind mount, a process SIGKILLed at a write step (`hpo.fsutil.crash_point`),
the local Postgres stopped for N seconds, and the processes a command left behind.

Mounting needs root (or CAP_SYS_ADMIN): where it is not permitted the test is skipped with
the reason — and fails under ``CI=true`` (`tests.helpers.require`).
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hpo.fsutil import CRASH_ENV
from tests.helpers import ROOT, require

__all__ = [
    "MARK_ENV",
    "crash_at",
    "fill_disk",
    "free_bytes",
    "left_behind",
    "marked",
    "postgres_down",
    "postgres_tablespace",
    "read_only",
    "restart_postgres",
    "run_hpo_marked",
    "tmpfs",
]

#: set in the environment of a command under test, so that its processes can be found afterwards
MARK_ENV = "HPO_TEST_MARK"


def _mount(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *map(str, args)], capture_output=True, text=True, timeout=30)


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)  # still busy: detach


@contextmanager
def tmpfs(path: Path, size: str = "20m", owner: str | None = None) -> Iterator[Path]:
    """A fresh tmpfs of ``size`` (``mount -o size=``: ``20m``, ``512k``) mounted at ``path``
    (created) for the ``with`` block, unmounted after; its root belongs to the user ``owner``
    (default: open to everyone)."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        require(False, "no mount command: cannot mount a tmpfs")
    options = f"size={size},mode=0777"
    if owner is not None:
        user = pwd.getpwnam(owner)
        options = f"size={size},mode=0700,uid={user.pw_uid},gid={user.pw_gid}"
    proc = _mount("-t", "tmpfs", "-o", options, "tmpfs", path)
    require(proc.returncode == 0, f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield path
    finally:
        _umount(path)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` (a folder) bind-mounted read-only over itself for the ``with`` block: not even
    root can write there (unlike ``chmod``, which root ignores)."""
    proc = _mount("--bind", path, path)
    require(proc.returncode == 0, f"cannot bind-mount {path} ({proc.stderr.strip() or proc.returncode})")
    try:
        proc = _mount("-o", "remount,bind,ro", path)
        require(proc.returncode == 0, f"cannot remount {path} read-only ({proc.stderr.strip()})")
        yield path
    finally:
        _umount(path)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on ``path``'s file system."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_disk(mount: Path, leave: int = 0) -> Path:
    """Fill ``mount``'s file system until about ``leave`` bytes are free (rounded down to its
    blocks); returns the filler file (delete it to give the space back)."""
    filler = mount / f".filler-{uuid.uuid4().hex[:8]}"
    block = os.statvfs(mount).f_frsize
    take = max(0, (free_bytes(mount) - leave) // block * block)
    with filler.open("wb") as fh:
        if take:
            os.posix_fallocate(fh.fileno(), 0, take)
    return filler


def crash_at(step: str) -> dict[str, str]:
    """Environment that makes an hpo process SIGKILL itself at ``crash_point(step)``."""
    return {CRASH_ENV: step}


def marked() -> tuple[dict[str, str], str]:
    """An environment entry that every process of the command inherits, and its token for
    `left_behind`."""
    token = uuid.uuid4().hex
    return {MARK_ENV: token}, token


def left_behind(token: str) -> list[int]:
    """Live processes (zombies aside) whose environment carries ``token`` (see `marked`):
    what a command left running after it exited."""
    pids = []
    needle = f"{MARK_ENV}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            pids.append(int(entry.name))
    return pids


def run_hpo_marked(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """The CLI in a fresh interpreter, and the processes it left running once it exited
    (SIGKILLed here, so that they do not outlive the test). Its output goes to files, not
    pipes: a process left behind holding a pipe would hang the test instead of failing it."""
    mark, token = marked()
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {}), **mark}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cmd = [sys.executable, "-m", "hpo", *map(str, args)]
        proc = subprocess.run(cmd, stdout=out, stderr=err, cwd=ROOT, env=full_env, timeout=timeout)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    time.sleep(0.5)  # a child killed with its parent needs a moment to go
    left = left_behind(token)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return done, left


def _pg_cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    require(bool(versions) and shutil.which("pg_ctlcluster") is not None, "no local Postgres cluster (pg_ctlcluster)")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


@contextmanager
def postgres_down() -> Iterator[None]:
    """The local Postgres cluster stopped for the ``with`` block, started again after — while no
    other test uses it (`postgres_in_use`): under ``make test``'s two xdist workers, the other
    worker's Postgres test would otherwise meet the outage as its own failure."""
    cmd = _pg_cluster()
    with postgres_alone():
        subprocess.run([*cmd, "stop"], check=True, capture_output=True, timeout=120)
        try:
            yield
        finally:
            subprocess.run([*cmd, "start"], check=True, capture_output=True, timeout=120)


#: one lock file for every test process on this machine: tests using Postgres share it, a test
#: that stops the server takes it alone
_PG_LOCK = Path(tempfile.gettempdir()) / "hpo-tests-postgres.lock"
_pg_lock_fd: int | None = None
_pg_shared = 0  # nesting of postgres_in_use in this process
_pg_alone = 0  # nesting of postgres_alone


def _flock(mode: int) -> None:
    global _pg_lock_fd
    if _pg_lock_fd is None:
        _pg_lock_fd = os.open(_PG_LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    fcntl.flock(_pg_lock_fd, mode)


@contextmanager
def postgres_in_use() -> Iterator[None]:
    """Hold a shared claim on the Postgres server for the ``with`` block (conftest wraps every
    test that uses it), so no other test process stops it meanwhile."""
    global _pg_shared
    if _pg_shared == 0:
        _flock(fcntl.LOCK_SH)
    _pg_shared += 1
    try:
        yield
    finally:
        _pg_shared -= 1
        if _pg_shared == 0:
            _flock(fcntl.LOCK_UN)


@contextmanager
def postgres_alone() -> Iterator[None]:
    """The server to this test alone (conftest holds it for a whole test marked
    ``postgres_outage``, so the outage falls where the test puts it, not when others let it): a
    shared claim of this process is converted (flock drops it first, so two processes converting
    at once cannot deadlock), and given back after."""
    global _pg_alone
    if _pg_alone == 0:
        _flock(fcntl.LOCK_EX)
    _pg_alone += 1
    try:
        yield
    finally:
        _pg_alone -= 1
        if _pg_alone == 0:
            _flock(fcntl.LOCK_SH if _pg_shared else fcntl.LOCK_UN)


@contextmanager
def postgres_tablespace(url: str, size: str = "1m") -> Iterator[tuple[str, Path]]:
    """A Postgres tablespace on a tmpfs of its own (``size``) for the ``with`` block, and that
    tmpfs: tables created in it fill the tmpfs, and a full one gives the server's real "could
    not extend file" (SQLSTATE 53100). Its tables are dropped after."""
    import psycopg

    name = f"hpo_test_{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="hpo-pg-"))  # under /tmp: the server's user can reach it
    folder.chmod(0o755)
    try:
        with tmpfs(folder, size, owner="postgres") as disk, psycopg.connect(url, autocommit=True) as con:
            con.execute(f"CREATE TABLESPACE {name} LOCATION '{disk}'")
            try:
                yield name, disk
            finally:
                tables = con.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_tablespace t ON c.reltablespace = t.oid "
                    "WHERE t.spcname = %s AND c.relkind = 'r'",
                    (name,),
                ).fetchall()
                for (table,) in tables:
                    con.execute(f'DROP TABLE IF EXISTS "{table}"')
                con.execute(f"DROP TABLESPACE {name}")
    finally:
        folder.rmdir()


def restart_postgres(down_s: float = 5.0) -> None:
    """Stop the local Postgres for ``down_s`` seconds: long enough that the workers' next writes
    fail (an instant restart can go unnoticed)."""
    with postgres_down():
        time.sleep(down_s)
