"""Where an ablation lives: the Optuna study ``<study>-ablation`` in the search's own storage.

Each training is one trial of it, enqueued with its configuration as fixed params and, as
`TrialRecord` fields, its seed (``seed``: the objective trains with it), its configuration
(``ablation_config``: the key it is looked up by) and its step. The path itself is not stored: it
is recomputed from the trials (`hpo.ablate.path.walk`) by the run, the report and the export's
model card alike; the study's `PLAN_ATTR` says between which configurations it was asked for.
No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.ablate.path import Config, Measured, Path, config_key, walk
from hpo.config import StudyConfig
from hpo.config.schema import ArtifactsConfig, PrunerConfig, SamplerConfig
from hpo.records.trial import TrialRecord
from hpo.workers.recovery import retried

__all__ = ["PLAN_ATTR", "Plan", "Results", "ablation_config", "ablation_name", "find_ablation", "stored_path"]

PLAN_ATTR = "plan"  # user attr of the ablation study: the latest `Plan`
SUFFIX = "-ablation"


def ablation_name(study_name: str) -> str:
    return study_name + SUFFIX


def ablation_config(config: StudyConfig) -> StudyConfig:
    """The search's config for the ablation study: its own name, nothing enqueued up front, no
    pruner (every configuration trains to the end), no stored weights, one objective."""
    study = replace(config.study, name=ablation_name(config.study.name), enqueue_baseline=False, enqueue=())
    return replace(
        config,
        study=study,
        pruner=PrunerConfig(type="none"),
        sampler=SamplerConfig(type="random"),
        artifacts=ArtifactsConfig(store="none"),
    )


@dataclass(frozen=True)
class Plan:
    """What an `hpo ablate` run asked for: from ``source`` (its label and params) to trial
    ``target`` of the search, with these seeds, at ``epochs``."""

    source: str
    source_params: dict[str, Any]
    target: int
    target_params: dict[str, Any]
    seeds: list[int]
    epochs: int

    def save(self, study: optuna.Study) -> None:
        study.set_user_attr(PLAN_ATTR, asdict(self))

    @classmethod
    def of(cls, study: optuna.Study) -> Plan | None:
        """The study's latest plan; None when it has none (or one this version does not read)."""
        try:
            return cls(**study.user_attrs[PLAN_ATTR])
        except (KeyError, TypeError):
            return None


class Results:
    """The ablation study's trainings by (configuration, seed): a val accuracy, None for a
    configuration that failed for good (NaN loss, out of memory, retries spent), ``...`` for one
    not finished (or never enqueued); `pending`: enqueued or running."""

    def __init__(self, trials: list[FrozenTrial]) -> None:
        self.values: dict[tuple[str, int], float | None] = {}
        self.pending: set[tuple[str, int]] = set()
        again = retried(trials)
        for t in trials:
            rec = TrialRecord.of(t)
            if rec.ablation_config is None or rec.seed is None:
                continue
            key = (config_key(rec.ablation_config), rec.seed)
            if t.state == TrialState.COMPLETE and t.value is not None:
                self.values[key] = float(t.value)
            elif t.state in (TrialState.WAITING, TrialState.RUNNING):
                self.pending.add(key)
            elif t.state == TrialState.FAIL and t.number not in again:
                self.values.setdefault(key, None)
        for key in self.pending:
            if self.values.get(key, 0.0) is None:
                del self.values[key]  # failed once, retried: not settled

    def __call__(self, config: Config, seed: int) -> Measured:
        return self.values.get((config_key(config), seed), ...)

    def is_pending(self, config: Config, seed: int) -> bool:
        return (config_key(config), seed) in self.pending


def find_ablation(study: optuna.Study) -> optuna.Study | None:
    """The ablation study of ``study`` (same storage), or None when there is none."""
    name = ablation_name(study.study_name)
    if name not in {s.study_name for s in study._storage.get_all_studies()}:
        return None
    return optuna.load_study(study_name=name, storage=study._storage)


def stored_path(ablation: optuna.Study) -> tuple[Plan, Path] | None:
    """The latest plan of an ablation study and its path as far as it was measured."""
    plan = Plan.of(ablation)
    if plan is None:
        return None
    results = Results(ablation.get_trials(deepcopy=False))
    return plan, walk(plan.source_params, plan.target_params, plan.seeds, results)
