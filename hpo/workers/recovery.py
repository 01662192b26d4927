"""Recovery of a worker's trials after an interruption: its own RUNNING trial failed and
re-queued (a signal, a storage outage), a trial a peer already failed recognised as such, and
the line a worker prints while it waits for the last slots of the cap."""

from __future__ import annotations

import warnings

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from hpo.records.trial import TrialRecord

__all__ = ["finished_elsewhere", "requeue_interrupted", "waiting_line"]


def requeue_interrupted(study: optuna.Study, worker: str, current: int | None, max_retry: int) -> list[int]:
    """Fail this worker's RUNNING trials (never leave one RUNNING) and re-queue the params of
    every trial the interruption failed, with the same callback heartbeats use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
    requeued = []
    for t in study.get_trials(deepcopy=False):
        mine = t.number == current or TrialRecord.of(t).worker == worker
        if not mine or t.state not in (TrialState.RUNNING, TrialState.FAIL):
            continue
        if t.state == TrialState.RUNNING:
            study.tell(t.number, state=TrialState.FAIL)
        elif t.number != current:
            continue  # an older failure of this worker, not the interrupted trial
        retry(study, study.get_trials(deepcopy=False)[t.number])
        requeued.append(t.number)
    return requeued


_REFUSED = ("Cannot tell a ", "Should not reach")  # Optuna's tell of an already finished trial


def finished_elsewhere(study: optuna.Study, number: int | None, exc: Exception) -> bool:
    """Whether ``exc`` is Optuna refusing to finish this worker's current trial because
    someone else finished it (not an error of the objective itself)."""
    refused = isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or str(exc).startswith(_REFUSED)
    if number is None or not refused:
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
