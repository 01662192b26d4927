"""One worker process: TensorFlow threads/GPU set up, signals turned into a clean stop, then
`run_search` on the shared study until its cap.

SIGTERM (docker stop, a scheduler) and SIGINT (Ctrl-C) raise KeyboardInterrupt in the main
thread; the running trial is marked FAIL with a reason, its params are re-queued for another
worker, and the process exits 128 + the signal (143 after SIGTERM, 130 after Ctrl-C), so
`hpo search … && hpo export …` stops and a scheduler knows the work is not done. A worker
killed outright (SIGKILL, OOM killer, a lost machine) stops sending heartbeats; after the
study's grace period the next live worker marks its trial FAIL and
`RetryHeartbeatStaleTrialCallback` re-queues it.

A signal wins over whatever its interrupt turns into on the way: a worker paused past the
grace period (``docker pause``) whose trial a peer failed, then sent SIGCONT + SIGTERM
(``docker stop``), meets Optuna refusing to write to that FAIL trial while it handles the
interrupt; the loop asks `stop_requested` and stops all the same.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

__all__ = [
    "configure_tensorflow",
    "cpu_has_bf16",
    "ignore_signals",
    "install_signal_handlers",
    "interrupted_exit_code",
    "stop_requested",
    "visible_gpus_attr",
    "worker_name",
]

log = logging.getLogger(__name__)
_received: list[int] = []  # the signals that stopped this process


_RESEND_S = 0.05  # a signal that lands in a finalizer is delivered again this much later
_repeat: list[float] = []  # install_signal_handlers(repeat_s=): every signal is sent again after this


def _send_again(signum: int, delay: float) -> None:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.daemon = True  # never keeps a finished process alive
    timer.start()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if _repeat:
        _send_again(signum, _repeat[0])
    if _in_finalizer(frame):  # raised there, Python would print a traceback and drop the interrupt
        if not _repeat:
            _send_again(signum, _RESEND_S)
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside a ``__del__`` or a weakref callback (the garbage collector calls
    them at any bytecode, e.g. in the middle of TensorFlow's Python code): an exception raised there
    is printed as "Exception ignored in …" with a traceback and lost (seen under load, 1 run in ~10)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or os.path.basename(code.co_filename) in ("weakref.py", "_weakrefset.py"):
            return True
        frame = frame.f_back
    return False


def install_signal_handlers(repeat_s: float | None = None) -> None:
    """SIGTERM behaves like Ctrl-C: the current trial stops and is re-queued. ``repeat_s``: each
    signal is also sent again after that many seconds, until the process ignores them — for a
    server with nothing to save (`hpo dashboard`), whose library code may swallow one interrupt."""
    _repeat[:] = [repeat_s] if repeat_s else []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)


def ignore_signals() -> None:
    """SIGINT and SIGTERM do nothing from now on (a stopping server, once it has stopped)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def stop_requested() -> bool:
    """Whether SIGTERM or SIGINT reached this process (its interrupt may have been lost)."""
    return bool(_received)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the search (130: Ctrl-C, 143: SIGTERM), the shell's convention."""
    return 128 + (_received[0] if _received else signal.SIGINT)


def worker_name(worker_id: str | None) -> str:
    import socket

    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{worker_id}@{base}" if worker_id else base


def visible_gpus_attr() -> str:
    """What this process was given as ``CUDA_VISIBLE_DEVICES`` (``"unset"`` when nothing set
    it); recorded on every trial so a study shows which GPU ran what."""
    return os.environ.get("CUDA_VISIBLE_DEVICES", "unset")


def configure_tensorflow(threads: int | None = None, *, mixed_precision: bool = False) -> list[str]:
    """Thread pools for a CPU share, memory growth on every visible GPU, and when mixed precision is
    asked: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a CPU with bfloat16 instructions, else
    float32 and one warning; returns the GPUs.

    Must run before TensorFlow executes anything. ``CUDA_VISIBLE_DEVICES`` (set by the
    launcher, a container runtime or Kubernetes' device plugin) decides which GPU it sees."""
    import keras
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # already initialized: keep going with the default
            log.warning("memory growth not set on %s: %s", gpu.name, exc)
    if mixed_precision and gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
    elif mixed_precision and cpu_has_bf16():
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        log.info("[training] mixed_precision = true, no GPU: mixed_bfloat16 on this CPU (it has AVX512-BF16/AMX)")
    elif mixed_precision:
        log.warning(
            "[training] mixed_precision = true but no GPU is visible and this CPU has no bfloat16 "
            "instructions (AVX512-BF16/AMX): training in float32"
        )
    return [g.name for g in gpus]


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes in bfloat16 natively (the ``avx512_bf16`` or ``amx_bf16`` flag of
    Linux's cpuinfo); without it TensorFlow emulates bfloat16, slower than float32."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))
