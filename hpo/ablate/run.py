"""Walk an ablation path: each step's missing trainings are enqueued on the ablation study and
trained as its trials, by `hpo.study.objective.Objective` (the search's own objective: same data,
early stopping, BatchNorm recalibration; the trial's enqueued seed; no pruner).

Everything is read back from the study before each step, so a run that was killed resumes with
the trainings it finished, and several processes running the same command on one storage share
the work: the study lock (`hpo.workers.slots.SlotLock`) makes each enqueue and each start happen
once, a dead process's trial is failed after ``grace_period`` and re-queued (Optuna's heartbeat).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.ablate.path import Path, config_key, walk
from hpo.ablate.store import Plan, Results, ablation_config
from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import SearchInterrupted, TrialFailed
from hpo.model.builders import Builder
from hpo.records.trial import TrialRecord
from hpo.study.contract import EpochHook
from hpo.study.study import open_study
from hpo.workers.experimental import experimental
from hpo.workers.process import stop_requested
from hpo.workers.recovery import requeue_interrupted
from hpo.workers.slots import SlotLock

__all__ = ["Outcome", "run_ablation"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The path as far as it got; ``stopped``: why it is not complete ("" when it is)."""

    path: Path
    stopped: str = ""
    trained: int = 0  # trainings this process ran


def _seconds(trials: list[FrozenTrial]) -> list[float]:
    return [t.duration.total_seconds() for t in trials if t.state == TrialState.COMPLETE and t.duration]


class _Walker:
    def __init__(self, config: StudyConfig, data: PreparedData, plan: Plan, emit: Callable[[str], None],
                 on_epoch: EpochHook | None, build: Builder | None) -> None:  # fmt: skip
        from hpo.study.objective import Objective  # imports TensorFlow

        self.config = ablation_config(config)
        self.plan, self.emit = plan, emit
        self.study = open_study(self.config)
        self.lock = SlotLock(self.study._storage, self.study.study_name)
        self.objective = Objective(self.config, data, on_start=self.lock.release, on_epoch=on_epoch, build=build)
        self.trained = 0

    def path(self) -> Path:
        trials = self.study.get_trials(deepcopy=False)
        return walk(self.plan.source_params, self.plan.target_params, self.plan.seeds, Results(trials))

    def enqueue(self, path: Path) -> None:
        """The step's missing trainings, each unless a trial already holds it (under the lock)."""
        step = len(path.steps)
        with self.lock:
            results = Results(self.study.get_trials(deepcopy=False))
            for config, seed in path.missing:
                if results(config, seed) is ... and not results.is_pending(config, seed):
                    rec = TrialRecord(seed=seed, ablation_config=config, ablation_step=step)
                    attrs = {k: v for k, v in vars(rec).items() if v is not None and v is not False}
                    self.study.enqueue_trial(config, user_attrs=attrs)

    def _done(self, study: optuna.Study, trial: FrozenTrial) -> None:
        rec = TrialRecord.of(trial)
        value = f"val {trial.value:.4f}" if trial.value is not None else f"{trial.state.name} {rec.fail_reason or ''}"
        secs = trial.duration.total_seconds() if trial.duration else 0.0
        self.emit(f"  trial {trial.number}  step {rec.ablation_step}  seed {rec.seed}  {value}  ({secs:.0f} s)")

    def train_pending(self) -> None:
        """Train the waiting trials; wait for the ones other processes run (failing stale ones)."""
        said = False
        while True:
            if stop_requested():
                raise KeyboardInterrupt
            self.objective.current = None
            with self.lock:  # released by the objective as soon as its trial exists
                waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
                if waiting:
                    self.study.optimize(self.objective, n_trials=1, catch=(TrialFailed,), callbacks=[self._done])
                    self.trained += 1
                    continue
                with experimental():
                    optuna.storages.fail_stale_trials(self.study)
                running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running:
                return
            if not said:
                held = ", ".join(f"#{t.number}" for t in running)
                self.emit(f"  waiting for trials {held}, run elsewhere (if that process died, its trial is "
                          f"retried here after grace_period, {self.config.study.grace_period} s)")  # fmt: skip
                said = True
            time.sleep(min(2.0, self.config.study.heartbeat_interval))

    def requeue(self) -> list[int]:
        return requeue_interrupted(
            self.study, self.objective.worker, self.objective.current, self.config.study.max_retry, self.lock
        )


def run_ablation(
    config: StudyConfig,
    data: PreparedData,
    plan: Plan,
    *,
    estimate_s: float,
    budget_s: float | None = None,
    emit: Callable[[str], None] = print,
    on_epoch: EpochHook | None = None,
    build: Builder | None = None,
) -> Outcome:
    """Measure ``plan``'s path step by step until it reaches the target, or until the next step
    would not fit ``budget_s`` (``estimate_s``: seconds per training until this study has
    measured its own). Raises `SearchInterrupted` on SIGINT/SIGTERM (the trial re-queued)."""
    started = time.monotonic()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is `_Walker._done`'s
    walker = _Walker(config, data, plan, emit, on_epoch, build)
    plan.save(walker.study)
    try:
        while not (path := walker.path()).complete:
            step = len(path.steps)
            per = statistics.fmean(_seconds(walker.study.get_trials(deepcopy=False)) or [estimate_s])
            need = len(path.missing) * per
            if budget_s is not None and time.monotonic() - started + need > budget_s:
                last = f"step {step - 1}" if step else "no step"
                why = f"the budget ({budget_s / 60:.0f} min) cannot finish step {step} (~{need / 60:.1f} min more)"
                return Outcome(path, f"{why}: stopped after {last}", walker.trained)
            keys = sorted({config_key(c) for c, _ in path.missing})
            emit(f"step {step}: {len(path.missing)} training(s) of {len(keys)} configuration(s), ~{need / 60:.1f} min")
            walker.enqueue(path)
            walker.train_pending()
    except KeyboardInterrupt:
        raise SearchInterrupted(walker.requeue()) from None
    return Outcome(path, "", walker.trained)
