"""One worker process: TensorFlow threads/GPU set up, signals turned into a clean stop, then
`run_search` on the shared study until its cap.

SIGTERM (docker stop, a scheduler) and SIGINT (Ctrl-C) raise KeyboardInterrupt in the main
thread; the running trial is marked FAIL with a reason, its params are re-queued for another
worker, and the process exits 0. A worker killed outright (SIGKILL, OOM killer, a lost
machine) stops sending heartbeats; after the study's grace period the next live worker marks
its trial FAIL and `RetryHeartbeatStaleTrialCallback` re-queues it.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

__all__ = ["configure_tensorflow", "install_signal_handlers", "worker_name"]

log = logging.getLogger(__name__)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """SIGTERM behaves like Ctrl-C: the current trial stops and is re-queued."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def worker_name(worker_id: str | None) -> str:
    import socket

    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{worker_id}@{base}" if worker_id else base


def configure_tensorflow(threads: int | None) -> list[str]:
    """Thread pools for a CPU share, memory growth on every visible GPU; returns the GPUs.

    Must run before TensorFlow executes anything. ``CUDA_VISIBLE_DEVICES`` (set by the
    launcher) decides which GPU this process sees."""
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
    return [g.name for g in gpus]
