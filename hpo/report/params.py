"""Which parameters a report plot can show, and in words why the others are missing.

Optuna's plots read complete trials only, and a switchable parameter exists only in the trials
that switched it on (`hpo.model.space`: ``l2`` only where ``l2_on`` is true, ``weight_decay``
only with AdamW), so a parameter can be in some complete trials or in none."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cached_property
from typing import Any

import optuna
import plotly.graph_objects as go
from optuna.importance import get_param_importances
from optuna.trial import FrozenTrial, TrialState

from hpo.config.space import DIMENSIONS, SWITCH_SUFFIX, switch_param
from hpo.report.figures import NoPlot, history_figure, on_accuracy, optuna_figure, pareto_figure
from hpo.report.sample import KEEP_BEST, MAX_POINTS, Sample, TrialView, sample_trials
from hpo.study.study import accuracy, baseline_trial, pareto_front

__all__ = [
    "VIZ",
    "StudyViews",
    "complete_trials",
    "describe_states",
    "missing_params",
    "param_coverage",
]

VIZ = optuna.visualization

#: parameters suggested only under another parameter's value (mirrors `hpo.model.space.suggest`);


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The trials Optuna's plots draw: complete, with finite objective values."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if t.values is not None and all(math.isfinite(v) for v in t.values)]


def describe_states(study: optuna.Study) -> str:
    """``"1 complete, 3 pruned, 1 failed"`` (only the states present), or ``"no trials yet"``."""
    trials = study.get_trials(deepcopy=False)
    counts = [(sum(t.state == s for t in trials), s.name.lower()) for s in TrialState]
    words = {"fail": "failed"}
    return ", ".join(f"{n} {words.get(name, name)}" for n, name in counts if n) or "no trials yet"


def _cause(name: str, missing: list[FrozenTrial], scope: str) -> str:
    switch = switch_param(name)
    if all(t.params.get(switch) is False for t in missing):
        return f"switched off by {switch} in {scope}"
    if (dim := DIMENSIONS.get(name)) is not None and dim.only_with is not None:
        gate, value = dim.only_with
        used = sorted({str(t.params.get(gate, "unset")) for t in missing})
        if str(value) not in used:
            return f"suggested only when {gate} is {value}; {gate} was {' or '.join(used)} in {scope}"
    return f"not suggested in {scope}"


def param_coverage(name: str, complete: list[FrozenTrial]) -> str | None:
    """Why ``name`` is missing from some or all ``complete`` trials, or None when it is in every one
    (e.g. ``"l2: in no complete trial (switched off by l2_on in all 4)"``)."""
    missing = [t for t in complete if name not in t.params]
    if not missing:
        return None
    n, k = len(complete), len(complete) - len(missing)
    if k == 0:
        return f"{name}: in no complete trial ({_cause(name, missing, 'the only one' if n == 1 else f'all {n}')})"
    return f"{name}: in {k} of {n} complete trials ({_cause(name, missing, f'the other {len(missing)}')})"


def missing_params(names: list[str], complete: list[FrozenTrial]) -> list[str]:
    """`param_coverage` of each of ``names`` that some complete trial lacks."""
    return [why for name in names if (why := param_coverage(name, complete)) is not None]


class StudyViews:
    """The study-wide figures, each checking what it needs first so that its reason is exact
    (`NoPlot`), and the parameters each one leaves out."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study if isinstance(study, TrialView) else TrialView(study)  # read once
        self.complete = complete_trials(self.study)
        self._samples: dict[int, Sample] = {}
        names = {p for t in self.study.get_trials(deepcopy=False) for p in t.params}
        #: every parameter name of the study's trials, and those a switch (``l2_on``) turns on
        self.searched = names | {p.removesuffix(SWITCH_SUFFIX) for p in names if p.endswith(SWITCH_SUFFIX)}

    @cached_property
    def keep(self) -> list[FrozenTrial]:
        """The trials every figure draws: the `KEEP_BEST` most accurate complete ones, the baseline
        and, with two objectives, the Pareto front."""
        best = sorted(self.complete, key=lambda t: -(accuracy(t) or 0.0))[:KEEP_BEST]
        base = baseline_trial(self.study)
        front = pareto_front(self.study) if len(self.study.directions) > 1 else []
        return best + front + ([base] if base is not None else [])

    def sample(self, limit: int = MAX_POINTS) -> Sample:
        """At most ``limit`` complete trials for a figure of one mark per trial (`sample_trials`)."""
        if limit not in self._samples:
            self._samples[limit] = sample_trials(self.study, self.keep, limit=limit)
        return self._samples[limit]

    def left_out(self, names: list[str], *, somewhere: bool) -> list[str]:
        """Why each of ``names`` is missing from the complete trials: from any of them
        (``somewhere``), or from all of them."""
        if not somewhere:
            names = [p for p in names if p not in self.in_some_complete(names)]
        return missing_params(names, self.complete)

    @property
    def acc(self) -> dict[str, Any]:
        return on_accuracy(self.study)

    @property
    def importance_target(self) -> Callable[[FrozenTrial], float] | None:
        """PED-ANOVA ranks parameters for reaching *low* values of a given target, so a
        multi-objective study's val accuracy goes in negated (a single objective's direction is
        taken from the study)."""
        return (lambda t: -t.values[0]) if len(self.study.directions) > 1 else None

    def need(self, n: int) -> None:
        if len(self.complete) < n:
            plural = "s" if n > 1 else ""
            raise NoPlot(f"needs {n} complete trial{plural}; the study has {describe_states(self.study)}")

    def plot(
        self, make: Callable[..., go.Figure], n: int = 1, *, limit: int | None = MAX_POINTS, **kw: Any
    ) -> go.Figure:
        """An Optuna figure of at most ``limit`` complete trials (`sample`), or of all (None)."""
        self.need(n)
        return optuna_figure(make, self.study if limit is None else self.sample(limit).study, **self.acc, **kw)

    def need_spread(self) -> None:
        """Importances need two complete trials that differ in val accuracy."""
        self.need(2)
        if len({accuracy(t) for t in self.complete}) < 2:
            raise NoPlot(f"all {len(self.complete)} complete trials have the same val accuracy: nothing to attribute")

    @cached_property
    def ranked(self) -> list[str]:
        """Parameters by Optuna's default importance (PED-ANOVA, the same as its importance plot),
        over those in every complete trial that take more than one value there."""
        self.need_spread()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ranked = get_param_importances(self.study, target=self.importance_target)
        except (ValueError, RuntimeError) as exc:
            raise NoPlot(f"Optuna could not rank the parameters: {exc}") from None
        return [p for p in ranked if len({repr(t.params[p]) for t in self.complete if p in t.params}) > 1]

    def top(self, k: int) -> list[str]:
        if len(self.ranked) < 2:
            raise NoPlot(f"needs 2 parameters that vary across the complete trials; only {self.ranked or 'none'} do")
        return self.ranked[:k]

    def in_some_complete(self, names: list[str]) -> list[str]:
        return [p for p in names if any(p in t.params for t in self.complete)]

    def slices(self, names: list[str]) -> go.Figure:
        self.need(1)
        if not (present := self.in_some_complete(names)):
            raise NoPlot(f"none of {', '.join(names) or 'its parameters'} is in a complete trial")
        return self.plot(VIZ.plot_slice, params=present)

    def importances(self) -> go.Figure:
        self.need_spread()
        return optuna_figure(
            VIZ.plot_param_importances, self.study, target=self.importance_target, target_name="val_accuracy"
        )

    def history(self) -> go.Figure:
        self.need(1)
        return history_figure(self.study)

    def pareto(self, cost: str) -> go.Figure:
        self.need(1)
        return pareto_figure(self.sample().study, cost)
