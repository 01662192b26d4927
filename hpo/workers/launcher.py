"""`hpo search --workers N`: spawn N `hpo worker` processes on one study and multiplex them.

Each worker is a fresh interpreter (never a fork of a process that imported TensorFlow),
pinned to one GPU with ``CUDA_VISIBLE_DEVICES`` when there are GPUs, or given an equal share
of the CPU cores. Its output lines are prefixed with its id. SIGINT/SIGTERM to the launcher
is forwarded as SIGTERM, so every worker stops cleanly. The launcher exits non-zero when a
worker did.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import IO

from hpo.errors import HpoError

__all__ = ["WorkerPlan", "detect_gpus", "launch", "plan_workers"]


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

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HPO_WORKER_ID": self.worker_id}
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
        emit(f"[{prefix}] {line.rstrip()}")


_PRINT_LOCK = threading.Lock()


def _print(line: str) -> None:
    with _PRINT_LOCK:  # one pump thread per worker
        print(line, flush=True)


def launch(
    plans: Sequence[WorkerPlan], worker_args: Sequence[str], emit: Callable[[str], None] = _print
) -> tuple[list[int], int | None]:
    """Run ``hpo worker <worker_args>`` once per plan, each output line passed to ``emit`` with
    the worker's id; returns their exit codes and the signal that stopped the launcher
    (forwarded to every worker as SIGTERM), if any."""
    procs: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    for plan in plans:
        cmd = [sys.executable, "-m", "hpo", "worker", *worker_args, "--id", plan.worker_id]
        if plan.threads:
            cmd += ["--threads", str(plan.threads)]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=plan.env(), start_new_session=True
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
