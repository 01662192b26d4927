"""Recovery of a worker's trials after an interruption: its own RUNNING trial failed and
re-queued (a signal, a storage outage), a trial a peer already failed recognised as such, and
the line a worker prints while it waits for the last slots of the cap.

A trial is re-queued once. A worker cut off longer than the grace period (an outage, a pause)
may find that a peer has already failed its trial and re-queued it (`fail_stale_trials`);
it then adds no second copy. Both sides decide under the study lock (`SlotLock`), where the
peer fails stale trials, so neither can act between the other's check and its re-queue.
"""

from __future__ import annotations

import logging

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from hpo.records.trial import TrialRecord
from hpo.workers.experimental import experimental
from hpo.workers.heartbeat import retry_source
from hpo.workers.slots import SlotLock

__all__ = ["finished_elsewhere", "requeue_interrupted", "retried", "waiting_line"]

log = logging.getLogger(__name__)


def retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the trials that have a retry (Optuna's ``retry_history`` ends with the
    trial it re-queues: a retry of a retry lists the whole chain)."""
    return {t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")}


def requeue_interrupted(
    study: optuna.Study, worker: str, current: int | None, max_retry: int, lock: SlotLock
) -> list[int]:
    """Fail this worker's RUNNING trials (never leave one RUNNING) and re-queue the params of
    every trial the interruption failed that nobody re-queued yet, with the same callback
    heartbeats use; returns the trials it re-queued."""
    with experimental():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
    requeued = []
    with lock:
        trials = study.get_trials(deepcopy=False)
        done = retried(trials)
        for t in trials:
            mine = t.number == current or TrialRecord.of(t).worker == worker
            if not mine or t.state not in (TrialState.RUNNING, TrialState.FAIL):
                continue
            if t.number in done:  # a peer failed it while this worker was cut off, and re-queued it
                if t.number == current:
                    log.info("trial %d is re-queued already (by a peer: no heartbeat for grace_period)", current)
                continue
            if t.state == TrialState.RUNNING:
                try:
                    study.tell(t.number, state=TrialState.FAIL)
                except Exception as exc:  # failed meanwhile by a process outside the lock, which re-queues it
                    if not _refused(exc):
                        raise
                    continue
            elif t.number != current:
                continue  # an older failure of this worker, not the interrupted trial
            retry(study, retry_source(study.get_trials(deepcopy=False)[t.number]))
            requeued.append(t.number)
    return requeued


_REFUSED = ("Cannot tell a ", "Should not reach")  # Optuna's tell of an already finished trial


def _refused(exc: Exception) -> bool:
    """Whether ``exc`` is Optuna refusing to change a finished trial."""
    return isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or str(exc).startswith(_REFUSED)


def finished_elsewhere(study: optuna.Study, number: int | None, exc: Exception) -> bool:
    """Whether ``exc`` is Optuna refusing to finish this worker's current trial because
    someone else finished it (not an error of the objective itself)."""
    if number is None or not _refused(exc):
        return False
    trial = study.get_trials(deepcopy=False)[number]
    return trial.state != TrialState.RUNNING


def waiting_line(study: optuna.Study, grace_period: int) -> str:
    """What a worker at the cap waits for (said once per wait, not every poll)."""
    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    held = ", ".join(f"#{n}" for n in running) or "none"
    return (
        f"waiting: the last slots of the cap are held by running trials {held}; if their worker died, "
        f"its trial is failed after grace_period ({grace_period} s) and retried here"
    )
