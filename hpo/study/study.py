"""Create or load a study: sampler and pruner from the config, metric names, baseline trial 0.

No TensorFlow here: the dashboard, report and CLI tables use this module too.
"""

from __future__ import annotations

import zlib

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.config import PrunerConfig, StudyConfig
from hpo.model.space import baseline_trial_params
from hpo.records.trial import TrialRecord, baseline_attrs, is_baseline
from hpo.study.local import LocalStartSampler
from hpo.workers.experimental import experimental
from hpo.workers.slots import FINISHED, SlotLock
from hpo.workers.storage import make_storage, require_study

__all__ = [
    "FINISHED",
    "accuracy",
    "baseline_trial",
    "best_by_accuracy",
    "epochs_run",
    "feasible",
    "load_study",
    "local_startup",
    "make_pruner",
    "make_sampler",
    "open_study",
    "pareto_front",
    "pruner_from",
    "study_storage",
    "val_curve",
]


def make_sampler(config: StudyConfig, worker: str = "") -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``[study] seed``; each parallel worker (``worker``: its
    unique name) gets its own seed derived from it, or N workers would propose the same
    candidates in lock step."""
    seed = config.study.seed
    if worker:
        seed = (seed + zlib.crc32(worker.encode())) % 2**32
    if config.sampler.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    tpe = optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.sampler.n_startup_trials)
    if local_startup(config):
        return LocalStartSampler(tpe, config.sampler.n_startup_trials, seed=seed)
    return tpe


def local_startup(config: StudyConfig) -> bool:
    """Whether TPE's start-up trials are drawn near the best so far (`LocalStartSampler`): ``[sampler]
    startup = "local"``, or "auto" in a study with presets to start from. Measured (BENCHMARKS.md,
    issue 25): near a weak start (the baseline alone) random draws found better trials sooner; near
    a strong preset the local ones trained more candidates worth keeping."""
    startup = config.sampler.startup
    return startup == "local" or (startup == "auto" and bool(config.study.enqueue))


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    return pruner_from(config.pruner, config.training.max_epochs)


def pruner_from(p: PrunerConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    """The Optuna pruner of a ``[pruner]`` section (Hyperband's max resource: ``max_epochs``)."""
    if p.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource,
            max_resource=max_epochs,
            reduction_factor=p.reduction_factor,
            bootstrap_count=p.bootstrap_count,
        )
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=p.min_resource, reduction_factor=p.reduction_factor, bootstrap_count=p.bootstrap_count
        )
    if p.type == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=p.n_warmup_steps)
    return optuna.pruners.NopPruner()


def study_storage(config: StudyConfig, *, create: bool = True) -> optuna.storages.BaseStorage:
    """The study's storage with heartbeats and stale-trial retries as configured; read-only
    users (``create=False``) never create a database or its tables."""
    s = config.study
    return make_storage(
        s.storage,
        heartbeat_interval=s.heartbeat_interval,
        grace_period=s.grace_period,
        max_retry=s.max_retry,
        create=create,
    )


def open_study(config: StudyConfig, worker: str = "") -> optuna.Study:
    """Create the study (or load it if it exists); a new one gets the baseline as trial 0 and
    the study's presets after it. ``worker``: the name of a parallel worker, which seeds its
    own sampler."""
    storage = study_storage(config)
    study = optuna.create_study(
        study_name=config.study.name,
        storage=storage,
        sampler=make_sampler(config, worker),
        pruner=make_pruner(config),
        directions=[StudyDirection.MAXIMIZE] + [StudyDirection.MINIMIZE] * (len(config.study.objectives) - 1),
        load_if_exists=True,
    )
    with experimental():
        study.set_metric_names(list(config.study.objectives))
    if config.study.enqueue_baseline or config.study.enqueue:
        # workers started together each find the study new: check and enqueue under the study lock
        with SlotLock(storage, config.study.name):
            _enqueue_starts(study, config)
    return study


def _enqueue_starts(study: optuna.Study, config: StudyConfig) -> None:
    """The baseline and the study's presets, each unless the study holds it already."""
    if config.study.enqueue_baseline and baseline_trial(study) is None:
        study.enqueue_trial(
            baseline_trial_params(config.search),
            user_attrs=baseline_attrs(),
            skip_if_exists=True,
        )
    for params in config.study.enqueue:
        study.enqueue_trial(params, skip_if_exists=True)


def load_study(config: StudyConfig) -> optuna.Study:
    """Load an existing study; a missing one is an error listing the studies that exist."""
    storage = study_storage(config, create=False)
    require_study(storage, config.study.name)
    return optuna.load_study(
        study_name=config.study.name,
        storage=storage,
        sampler=make_sampler(config),
        pruner=make_pruner(config),
    )


def baseline_trial(study: optuna.Study) -> FrozenTrial | None:
    """The trial marked as the seed's baseline (normally trial 0; a retry of it if trial 0's
    worker died), preferring a finished one."""
    marked = [t for t in study.get_trials(deepcopy=False) if is_baseline(t)]
    finished = [t for t in marked if t.state in FINISHED]
    candidates = finished or marked
    return candidates[0] if candidates else None


def epochs_run(trial: FrozenTrial) -> int:
    """Epochs a trial trained: one intermediate value per epoch (multi-objective trials, which
    Optuna can't report intermediate values for, keep their curve in a user attr)."""
    return len(trial.intermediate_values) or len(TrialRecord.of(trial).val_accuracy_curve or [])


def val_curve(trial: FrozenTrial) -> dict[int, float]:
    """Val accuracy per epoch (0-based step -> value)."""
    if trial.intermediate_values:
        return dict(trial.intermediate_values)
    return dict(enumerate(TrialRecord.of(trial).val_accuracy_curve or []))


def accuracy(trial: FrozenTrial) -> float | None:
    """A trial's val accuracy: its (first) objective value; for a pruned trial, the best val
    accuracy it reported."""
    if trial.values is not None:
        return float(trial.values[0])
    curve = val_curve(trial)
    return max(curve.values()) if curve else None


def feasible(trial: FrozenTrial) -> bool:
    """Whether a trial meets every constraint it recorded (e.g. ``max_train_val_gap``)."""
    return all(v <= 0 for v in trial.constraints.values())


def best_by_accuracy(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """The most accurate complete trial among the feasible ones (Optuna's rule for
    ``best_trial``); if no trial is feasible, among all complete trials."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pool = [t for t in complete if feasible(t)] or complete
    return max(pool, key=lambda t: accuracy(t) or 0.0) if pool else None


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """Best trials (the Pareto front for two objectives), most accurate first."""
    return sorted(study.best_trials, key=lambda t: -(accuracy(t) or 0.0))
