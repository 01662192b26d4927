"""Create or load a study: sampler and pruner from the config, metric names, baseline trial 0.

No TensorFlow here: the dashboard, report and CLI tables use this module too.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.config import StudyConfig
from hpo.errors import HpoError
from hpo.search_space import baseline_trial_params
from hpo.storage import make_storage, mask_url, study_names

__all__ = [
    "BASELINE_ATTR",
    "FINISHED",
    "METRIC_NAMES",
    "baseline_trial",
    "epochs_run",
    "load_study",
    "make_pruner",
    "make_sampler",
    "open_study",
]

METRIC_NAMES = ["val_accuracy"]
BASELINE_ATTR = "baseline"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def make_sampler(config: StudyConfig) -> optuna.samplers.BaseSampler:
    seed = config.study.seed
    if config.sampler.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.sampler.n_startup_trials)


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    p, max_epochs = config.pruner, config.training.max_epochs
    if p.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource,
            max_resource=max_epochs,
            reduction_factor=p.reduction_factor,
        )
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource, reduction_factor=p.reduction_factor)
    if p.type == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=p.n_warmup_steps)
    return optuna.pruners.NopPruner()


def open_study(config: StudyConfig) -> optuna.Study:
    """Create the study (or load it if it exists); a new one gets the baseline as trial 0."""
    storage = make_storage(config.study.storage)
    study = optuna.create_study(
        study_name=config.study.name,
        storage=storage,
        sampler=make_sampler(config),
        pruner=make_pruner(config),
        direction="maximize",
        load_if_exists=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(METRIC_NAMES)
    if config.study.enqueue_baseline and baseline_trial(study) is None:
        study.enqueue_trial(
            baseline_trial_params(config.search),
            user_attrs={BASELINE_ATTR: True},
            skip_if_exists=True,
        )
    return study


def load_study(config: StudyConfig) -> optuna.Study:
    """Load an existing study; a missing one is an error listing the studies that exist."""
    storage = make_storage(config.study.storage)
    names = study_names(storage)
    if config.study.name not in names:
        where = mask_url(config.study.storage)
        found = ", ".join(names) if names else "none"
        raise HpoError(f"no study '{config.study.name}' in {where} (studies there: {found}) — run `hpo search` first")
    return optuna.load_study(
        study_name=config.study.name,
        storage=storage,
        sampler=make_sampler(config),
        pruner=make_pruner(config),
    )


def baseline_trial(study: optuna.Study) -> FrozenTrial | None:
    """The trial marked as the seed's baseline (normally trial 0), if any."""
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(BASELINE_ATTR):
            return t
    return None


def epochs_run(trial: FrozenTrial) -> int:
    """Epochs a trial trained: one intermediate value per epoch."""
    return len(trial.intermediate_values)
