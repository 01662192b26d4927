"""`hpo search --workers N`: spawn N `hpo worker` processes on one study and multiplex them.

Each worker is a fresh interpreter (never a fork of a process that imported TensorFlow),
pinned to one GPU with ``CUDA_VISIBLE_DEVICES`` when there are GPUs, or given an equal share
of the CPU cores, and the storage URL in ``$HPO_STORAGE_URL`` (not on its command line, where
``ps`` shows it). Its output lines are prefixed with its id (and masked). SIGINT/SIGTERM to
the launcher is forwarded as SIGTERM, so every worker stops cleanly.

A worker runs hpo without the current folder on ``sys.path`` (``python -m`` would put it
first, so a ``filelock.py`` in a downloaded dataset would run inside every worker); the
builder a study names is still looked up there, explicitly (`hpo.model.builders`).

The launcher's exit status is its workers' worst (`exit_status`), in the documented list
(README, "What is guaranteed").
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from hpo.errors import HpoError
from hpo.workers.secrets import mask
from hpo.workers.url import STORAGE_ENV, StorageUrl

__all__ = ["WORKER_COMMAND", "WorkerPlan", "detect_gpus", "exit_status", "launch", "plan_workers", "signal_name"]

#: ``python -c`` with this runs hpo's CLI: the current folder ('' first on ``sys.path``) is
#: dropped, and the folder hpo itself was imported from is added last in case hpo is not
#: installed (run from its checkout). ``python -P`` would do the first part, on 3.11+ only.
WORKER_COMMAND = (
    "import sys\n"
    "if sys.path[:1] == ['']: del sys.path[0]\n"
    "try:\n    import hpo.cli\n"
    "except ModuleNotFoundError:\n    sys.path.append({root!r})\n    import hpo.cli\n"
    "sys.exit(hpo.cli.main())\n"
)
_HPO_ROOT = str(Path(__file__).resolve().parents[2])


def detect_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi``."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


class WorkerPlan:
    def __init__(self, worker_id: str, gpu: str | None, threads: int | None) -> None:
        self.worker_id, self.gpu, self.threads = worker_id, gpu, threads

    def env(self, location: StorageUrl | None = None) -> dict[str, str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HPO_WORKER_ID": self.worker_id}
        if location is not None:
            env[STORAGE_ENV] = location.url
        env["CUDA_VISIBLE_DEVICES"] = self.gpu if self.gpu is not None else ""
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env


def plan_workers(n: int, gpus: Sequence[str], cores: int | None = None) -> list[WorkerPlan]:
    """Worker k gets ``gpus[k]`` alone (list an id twice to share a GPU on purpose); more
    workers than GPUs is an error, not a silent round-robin. Without GPUs the cores split
    evenly so N workers don't oversubscribe the CPU."""
    if gpus:
        if n > len(gpus):
            raise HpoError(
                f"--workers {n} but {len(gpus)} GPU(s) ({','.join(gpus)}): one worker per GPU — use "
                f"--workers {len(gpus)}, or name a GPU twice in --gpus (e.g. 0,0,1,1) to share it on purpose"
            )
        return [WorkerPlan(f"w{i}", gpus[i], None) for i in range(n)]
    share = max(1, (cores or os.cpu_count() or 1) // n)
    return [WorkerPlan(f"w{i}", None, share) for i in range(n)]


def _pump(prefix: str, stream: IO[str], emit: Callable[[str], None]) -> None:
    for line in stream:
        emit(mask(f"[{prefix}] {line.rstrip()}"))


_PRINT_LOCK = threading.Lock()


def _print(line: str) -> None:
    with _PRINT_LOCK:  # one pump thread per worker
        print(line, flush=True)


def launch(
    plans: Sequence[WorkerPlan],
    worker_args: Sequence[str],
    location: StorageUrl,
    emit: Callable[[str], None] = _print,
) -> tuple[list[int], int | None]:
    """Run ``hpo worker <worker_args>`` on the storage at ``location`` once per plan, each
    output line passed to ``emit`` with the worker's id; returns their exit codes (``-N``: killed
    by signal N) and the signal that stopped the launcher (forwarded to every worker as
    SIGTERM), if any."""
    procs: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    for plan in plans:
        boot = WORKER_COMMAND.format(root=_HPO_ROOT)
        cmd = [sys.executable, "-c", boot, "worker", *worker_args, "--id", plan.worker_id]
        if plan.threads:
            cmd += ["--threads", str(plan.threads)]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=plan.env(location),
            start_new_session=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(plan.worker_id, proc.stdout, emit), daemon=True)
        pump.start()
        pumps.append(pump)

    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [p.wait() for p in procs]
        for pump in pumps:
            pump.join(timeout=5)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return codes, (received[0] if received else None)


#: hpo's documented exit codes, most severe first (a worker's worst is the launcher's): a bug
#: (a traceback), bad input (retrying won't help), an I/O error such as a full disk, the
#: storage unavailable (retry later), stopped by a signal (128 + N)
SEVERITY = (1, 2, 74, 75)


def signal_name(code: int) -> str | None:
    """``SIGKILL`` for a worker killed by a signal (Popen's ``-9``) or stopped by one (137)."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return None


def exit_status(codes: Sequence[int], *, study_done: bool) -> int:
    """The launcher's exit status from its workers' (``-N``: killed by signal N): 0 when all
    finished; when the study is done (cap or timeout reached), workers stopped by a signal
    don't count (a peer retried their trial); else the worst code, 128 + N for a signal, and
    1 for a code hpo does not document."""
    counted = [c for c in codes if c != 0 and not (study_done and signal_name(c))]
    if not counted:
        return 0
    known = [c if c in SEVERITY else 128 - c if c < 0 else c if signal_name(c) else 1 for c in counted]
    return min(known, key=lambda c: SEVERITY.index(c) if c in SEVERITY else len(SEVERITY))
