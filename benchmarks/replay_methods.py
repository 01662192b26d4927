"""The searches `benchmarks/replay.py` compares: a sampler and a pruner each, built from the study
file the way `hpo search` builds its own (`hpo.study.study.make_sampler`, `pruner_from`), so the
row named ``hpo`` is exactly what a user's study runs today.

- ``hpo``: the study as written (cifar10-mini: TPE after start-up trials near the best so far,
  Hyperband from epoch 3, factor 3).
- ``tpe+…`` / ``random+…``: TPE with random start-up trials, or random search, with Hyperband
  (``hb``), successive halving with shorter rungs (``sh1``: rungs at 1, 3, 9, 27), or no pruner.
- ``local+hb``: every trial near the best so far (hpo's `LocalStartSampler` with no end):
  a local search around the incumbent, which starts at the preset.
- ``prior+hb``: in the spirit of PriorBand (Mallik et al. 2023): each trial is drawn near the
  incumbent, near the preset (the prior) or uniformly at random, with Hyperband.
- ``cmaes+hb``: CMA-ES started at the preset (``x0``) over the numeric dimensions, the categorical
  ones by TPE's independent sampling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpo.config import PrunerConfig, StudyConfig
from hpo.study.local import LocalStartSampler
from hpo.study.study import make_pruner, make_sampler, pruner_from

Build = Callable[[StudyConfig], tuple[BaseSampler, optuna.pruners.BasePruner]]


@dataclass(frozen=True)
class Method:
    build: Build
    presets: bool = True  # the study's [[study.enqueue]] presets are enqueued after the baseline


def _pruner(kind: str, min_resource: int = 3, factor: int = 3) -> Callable[[StudyConfig], Any]:
    return lambda c: pruner_from(
        PrunerConfig(type=kind, min_resource=min_resource, reduction_factor=factor), c.training.max_epochs
    )


def _tpe(c: StudyConfig) -> BaseSampler:
    """The study's TPE with random start-up trials (hpo's own `make_sampler`)."""
    return make_sampler(replace(c, sampler=replace(c.sampler, startup="random")))


class Mixture(BaseSampler):
    """Each trial delegated whole to one of ``samplers``, drawn with ``weights``."""

    def __init__(self, samplers: Sequence[BaseSampler], weights: Sequence[float], seed: int) -> None:
        self._samplers, self._p = list(samplers), np.asarray(weights) / sum(weights)
        self._rng = np.random.default_rng(seed)
        self._pick: dict[int, BaseSampler] = {}

    def _of(self, trial: FrozenTrial) -> BaseSampler:
        if trial._trial_id not in self._pick:
            self._pick[trial._trial_id] = self._samplers[int(self._rng.choice(len(self._samplers), p=self._p))]
        return self._pick[trial._trial_id]

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._of(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial, space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._of(trial).sample_relative(study, trial, space)

    def sample_independent(self, study: Study, trial: FrozenTrial, name: str, dist: BaseDistribution) -> Any:
        return self._of(trial).sample_independent(study, trial, name, dist)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._of(trial).before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._of(trial).after_trial(study, trial, state, values)


class _NearPreset(LocalStartSampler):
    """`LocalStartSampler` centred on the study's preset (trial 1, the prior) instead of the incumbent."""

    def _plan(self, study: Study, trial: FrozenTrial) -> tuple[FrozenTrial, set[str]] | None:
        plan = super()._plan(study, trial)
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        preset = next((t for t in trials if t.number == 1 and t.state == TrialState.COMPLETE), None)
        return (preset, plan[1]) if plan and preset else plan


def _forever(c: StudyConfig) -> LocalStartSampler:
    return LocalStartSampler(_tpe(c), 10**9, seed=c.study.seed)


def _prior(c: StudyConfig) -> BaseSampler:
    s = c.study.seed
    near_preset = _NearPreset(optuna.samplers.RandomSampler(seed=s), 10**9, seed=s + 1)
    return Mixture([_forever(c), near_preset, optuna.samplers.RandomSampler(seed=s + 2)], [1, 1, 1], seed=s)


def _cmaes(c: StudyConfig) -> BaseSampler:
    x0 = {k: v for k, v in c.study.enqueue[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return optuna.samplers.CmaEsSampler(
        x0=x0, sigma0=0.2, seed=c.study.seed, independent_sampler=_tpe(c), warn_independent_sampling=False
    )


METHODS: dict[str, Method] = {
    "hpo": Method(lambda c: (make_sampler(c), make_pruner(c))),
    "tpe+hb": Method(lambda c: (_tpe(c), make_pruner(c))),
    "tpe+sh1": Method(lambda c: (_tpe(c), _pruner("successive_halving", 1)(c))),
    "tpe+none": Method(lambda c: (_tpe(c), _pruner("none")(c))),
    "random+hb": Method(lambda c: (optuna.samplers.RandomSampler(seed=c.study.seed), make_pruner(c))),
    "random+none": Method(lambda c: (optuna.samplers.RandomSampler(seed=c.study.seed), _pruner("none")(c))),
    "local+hb": Method(lambda c: (_forever(c), make_pruner(c))),
    "local+none": Method(lambda c: (_forever(c), _pruner("none")(c))),
    "prior+hb": Method(lambda c: (_prior(c), make_pruner(c))),
    "cmaes+hb": Method(lambda c: (_cmaes(c), make_pruner(c))),
    "tpe+hb,no preset": Method(lambda c: (_tpe(c), make_pruner(c)), presets=False),
}
