"""Run the search in this process: prepare data, open the study, optimize up to the cap.

The cap is study-wide (`MaxTrialsCallback` over finished = complete + pruned trials), so a
restarted search resumes where it stopped and never runs past ``n_trials``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from hpo.config import StudyConfig
from hpo.data import load_prepared, prepare
from hpo.data.prepared import PreparedData
from hpo.errors import ConfigError, HpoError, SearchInterrupted, TrialFailed
from hpo.records.trial import TrialRecord
from hpo.study.contract import ObjectiveFactory, TrialObjective
from hpo.study.progress import SearchProgress
from hpo.study.study import FINISHED, accuracy, best_by_accuracy, epochs_run, feasible, open_study
from hpo.workers.outage import StorageOutage, storage_failure
from hpo.workers.process import stop_requested
from hpo.workers.recovery import finished_elsewhere, requeue_interrupted, waiting_line
from hpo.workers.slots import Slot, SlotLock, claim
from hpo.workers.storage import storage_location

if TYPE_CHECKING:
    from hpo.model.builders import Builder

__all__ = ["FailureGuard", "SearchInterrupted", "load_data", "run_search", "trial_line"]

log = logging.getLogger(__name__)


def load_data(config: StudyConfig, data_dir: Path | None = None, progress: bool = True) -> PreparedData:
    """The prepared data for a study: ``data_dir`` as given, else prepare (cached) from source."""
    if data_dir is not None:
        return load_prepared(data_dir)
    d = config.data
    if d.source is None:
        raise ConfigError(f"{config.path}: [data] source is not set — set it, or give the prepared data (--data DIR)")
    result = prepare(
        d.source,
        d.prepared,
        image_size=d.image_size,
        val=d.val,
        test=d.test,
        seed=config.study.seed,
        progress=progress,
    )
    r = result.report
    log.info(
        "data: %d images, %d classes, %dpx (train %d / val %d / test %d; %d skipped, %d dups)",
        r["used"], len(r["classes"]), d.image_size, r["splits"]["train"], r["splits"]["val"],
        r["splits"]["test"], len(r["skipped"]), r["duplicates"],
    )  # fmt: skip
    return load_prepared(d.prepared)


def trial_line(study: optuna.Study, trial: FrozenTrial) -> str:
    """One line per finished trial: number, state, value, best so far, epochs, seconds."""
    acc = accuracy(trial)
    value = f"{acc:.4f}" if acc is not None else "-"
    top = best_by_accuracy(study.get_trials(deepcopy=False))
    best = f"{accuracy(top):.4f} (#{top.number})" if top is not None else "-"
    if trial.values is not None and len(trial.values) > 1:
        names = study.metric_names or ["", "cost"]
        value += f" {names[1]} {trial.values[1]:.4g}"
    secs = trial.duration.total_seconds() if trial.duration else 0.0
    rec = TrialRecord.of(trial)
    tag = " [baseline]" if rec.baseline else ""
    reason = f"  {rec.fail_reason or ''}" if trial.state == TrialState.FAIL else ""
    if trial.constraints:
        tag += f" [gap {rec.gap_or(0.0):+.3f}{'' if feasible(trial) else ' over limit'}]"
    if rec.retry_of is not None:
        tag += f" [retry of #{rec.retry_of}]"
    return (
        f"trial {trial.number:>4}  {trial.state.name:<8} val_accuracy {value:<7} best {best:<16}"
        f" epochs {epochs_run(trial):>3}  {secs:6.1f}s{tag}{reason}"
    )


class _HideCaughtFailures(logging.Filter):
    """Optuna logs every caught trial failure with a traceback; our trial line already says
    why (``fail_reason``), so its two 'Trial N failed with ...' records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Trial ") or " failed with " not in record.getMessage()


def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opt_log = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _HideCaughtFailures) for f in opt_log.filters):
        opt_log.addFilter(_HideCaughtFailures())


class FailureGuard:
    """Stop this process's loop after ``limit`` failed trials in a row (a broken setup, not
    bad luck), so a study of failures cannot spin forever."""

    def __init__(self, limit: int) -> None:
        self.limit, self.streak = limit, 0
        self.last_reason = ""

    @property
    def tripped(self) -> bool:
        return self.streak >= self.limit

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.streak = self.streak + 1 if trial.state == TrialState.FAIL else 0
        self.last_reason = TrialRecord.of(trial).fail_reason or "see the log"
        if self.tripped:
            study.stop()


def run_search(
    config: StudyConfig,
    data: PreparedData,
    *,
    on_trial: Callable[[str], None] | None = None,
    progress: SearchProgress | None = None,
    max_failures: int = 5,
    worker: str = "",
    build: Builder | None = None,
    user_callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    keras_callbacks: Sequence[Any] = (),
    make_objective: ObjectiveFactory | None = None,
) -> optuna.Study:
    """Optimize the study until it holds ``n_trials`` finished trials (or the timeout).
    ``progress``: what is shown while it runs (default: one plain line per finished trial);
    ``build``: a model builder overriding the study's ``[model]`` (the Python API's ``build=``);
    ``user_callbacks``: Optuna study callbacks, after hpo's and the study file's (``[tracking]``);
    ``keras_callbacks``: added to every trial's fit; ``make_objective``: builds what trains a
    trial instead of `hpo.study.objective.Objective` (`hpo.study.contract`: a timed stub in the
    scale harness), everything else unchanged.

    Raises `SearchInterrupted` on SIGINT (or SIGTERM turned into KeyboardInterrupt)."""
    from hpo.study.tracking import study_callbacks

    hooks = [*study_callbacks(config), *user_callbacks]  # a wrong MLflow URI fails here, before TensorFlow starts
    _quiet_optuna()
    study = open_study(config, worker)
    cap = config.study.n_trials
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    if done >= cap:
        log.info("study %s already has %d finished trials (cap %d)", config.study.name, done, cap)
        return study
    progress = progress or SearchProgress(cap, config.study.timeout, live=False)
    emit = on_trial or progress.line
    progress.refresh(study)
    guard = FailureGuard(max_failures)
    lock = SlotLock(study._storage, study.study_name)
    objective: TrialObjective
    if make_objective is None:
        from hpo.study.objective import Objective  # imports TensorFlow

        objective = Objective(config, data, worker, on_start=lock.release, on_epoch=progress.epoch, build=build,
                              keras_callbacks=keras_callbacks)  # fmt: skip
    else:
        objective = make_objective(config, data, worker, on_start=lock.release, on_epoch=progress.epoch)
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [
        progress.trial_done,  # first, so the status line under the trial's line is already current
        lambda s, t: emit(trial_line(s, t)),
        MaxTrialsCallback(cap, states=FINISHED),
        guard,
        *hooks,
    ]
    deadline = time.monotonic() + config.study.timeout if config.study.timeout else None
    outage = StorageOutage(storage_location(study._storage), emit)
    waiting = False

    def requeue(current: int | None) -> list[int]:
        return requeue_interrupted(study, objective.worker, current, config.study.max_retry, lock)

    try:
        while not guard.tripped and (deadline is None or time.monotonic() < deadline):
            if stop_requested():  # a signal whose interrupt something swallowed
                raise KeyboardInterrupt
            objective.current = None
            try:
                with lock:  # released by the objective as soon as the trial exists
                    slot = claim(study, cap)
                    if slot is Slot.RUN:
                        study.optimize(objective, n_trials=1, catch=(TrialFailed,), callbacks=callbacks)
            except Exception as exc:
                if stop_requested():  # signals win: its interrupt became this error on the way
                    raise KeyboardInterrupt from exc
                if (cause := storage_failure(exc)) is not None:  # a database restart, a network blip
                    outage.wait(cause, probe=lambda: study.get_trials(deepcopy=False))  # HpoError after a limit
                    outage.recovered(requeue(objective.current))
                    continue
                # Optuna's tell refuses a trial a peer already failed (this worker was paused
                # past grace_period: SIGSTOP, a long GC, a network blip); the peer re-queued it
                if not finished_elsewhere(study, objective.current, exc):
                    raise
                emit(f"trial {objective.current} was failed by another worker while this one was paused "
                     "(no heartbeat for grace_period); its retry runs elsewhere — going on")  # fmt: skip
                continue
            if slot is Slot.DONE:
                break
            if slot is Slot.WAIT:
                if not waiting:
                    emit(waiting_line(study, config.study.grace_period))
                waiting = True
                time.sleep(min(5.0, config.study.heartbeat_interval))
            else:
                waiting = False
    except KeyboardInterrupt:
        raise SearchInterrupted(requeue(objective.current)) from None
    if guard.tripped:
        raise HpoError(
            f"{guard.streak} trials failed in a row (last: {guard.last_reason}) — "
            f"check the [search] ranges in {config.path}"
        )
    return study
