"""`LocalStartSampler`: start-up trials near the best trial so far instead of random ones.

TPE's start-up trials are random draws from the whole space. With a handful of trials on two CPUs
(a full training of the cifar10-mini preset costs ~6 minutes) and 18 dimensions, most random
draws land far from the starting points and train to chance or get pruned: the budget buys
little. Here each start-up trial is the best finished trial so far (the enqueued starting points
first) with a few of its dimensions changed — a numeric one moved by a Gaussian step of
``step`` x its range (in log space where the dimension is log-scaled), a categorical one set to
another option — and every later trial is the base sampler's (TPE), which then models a
neighbourhood of a good point instead of a scatter.

Parameters the centre does not have (a dimension a changed choice switches on, e.g. weight decay
after the optimizer became AdamW) are drawn at random. Multi-objective studies have no single
best trial: there the base sampler decides from the first trial on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

__all__ = ["LocalStartSampler"]

_CHANGES = (1, 2, 3)  # how many dimensions a start-up trial changes, drawn uniformly


class LocalStartSampler(BaseSampler):
    """The first ``n_local`` trials that are not enqueued change a few dimensions of the best
    finished trial; the rest come from ``base``."""

    def __init__(self, base: BaseSampler, n_local: int, *, seed: int | None = None, step: float = 0.15) -> None:
        self._base = base
        self._n_local = n_local
        self._step = step
        self._rng = np.random.RandomState(seed)
        self._random = RandomSampler(seed=seed)
        self._plans: dict[int, tuple[FrozenTrial, set[str]] | None] = {}  # trial id -> centre, names to change

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()
        self._base.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self._centre(study, trial) is not None:
            return {}
        return self._base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._centre(study, trial) is not None:
            return {}
        return self._base.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        centre = self._centre(study, trial)
        if centre is None:
            return self._base.sample_independent(study, trial, param_name, param_distribution)
        plan = self._plans[trial._trial_id]
        changing = plan[1] if plan else set()
        value = centre.params.get(param_name)
        dist = centre.distributions.get(param_name)
        if value is None or dist is None or not _compatible(dist, param_distribution, value):
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        if param_name in changing:
            return self._move(param_distribution, value)
        return value

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._plans.pop(trial._trial_id, None)
        self._base.after_trial(study, trial, state, values)

    # -- the start-up's centre and moves ----------------------------------------------------

    def _centre(self, study: Study, trial: FrozenTrial) -> FrozenTrial | None:
        """The trial this start-up trial varies (chosen once per trial), or None after the start-up."""
        if trial._trial_id not in self._plans:
            self._plans[trial._trial_id] = self._plan(study, trial)
        plan = self._plans[trial._trial_id]
        return plan[0] if plan else None

    def _plan(self, study: Study, trial: FrozenTrial) -> tuple[FrozenTrial, set[str]] | None:
        if len(study.directions) > 1:
            return None
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        earlier = [t for t in trials if t.number < trial.number]
        searched = [t for t in earlier if "fixed_params" not in t.system_attrs]
        finished = [t for t in earlier if t.state == TrialState.COMPLETE and t.value is not None]
        if len(searched) >= self._n_local or not finished:
            return None
        sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        centre = max(finished, key=lambda t: sign * float(t.value))  # type: ignore[arg-type]
        names = sorted(centre.params)
        k = min(len(names), int(self._rng.choice(_CHANGES)))
        return centre, set(self._rng.choice(names, size=k, replace=False).tolist())

    def _move(self, dist: BaseDistribution, value: Any) -> Any:
        """A value of ``dist`` other than ``value`` (where it has another): a Gaussian step,
        reflected at the bounds, snapped to the grid; the nearest grid point when the step was too small."""
        if isinstance(dist, CategoricalDistribution):
            others = [c for c in dist.choices if c != value]
            return others[self._rng.randint(len(others))] if others else value
        if not isinstance(dist, (FloatDistribution, IntDistribution)):
            return value
        to, back = (math.log, math.exp) if dist.log else (float, float)
        low, high, x = to(dist.low), to(dist.high), to(value)
        moved = x + self._rng.normal(0.0, self._step * (high - low))
        moved = high - (moved - high) if moved > high else low + (low - moved) if moved < low else moved
        out = min(dist.high, max(dist.low, back(min(high, max(low, moved)))))
        step = dist.step
        if step is None:
            return float(out)
        snapped = min(dist.high, dist.low + round((out - dist.low) / step) * step)
        if math.isclose(snapped, value):
            near = [v for v in (value - step, value + step) if dist.low <= v <= dist.high + 1e-12]
            snapped = near[self._rng.randint(len(near))] if near else value
        return int(snapped) if isinstance(dist, IntDistribution) else float(snapped)


def _compatible(centre: BaseDistribution, asked: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` (the centre's) is a valid draw of the distribution asked now."""
    if type(centre) is not type(asked):
        return False
    try:
        return bool(asked._contains(asked.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False
