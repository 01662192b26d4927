"""Which trials a report figure draws: all of them in a small study, a bounded sample in a big one.

A figure of one mark per trial (contour, rank, parallel coordinates, slices, the Pareto front)
draws at most `MAX_POINTS` trials: always the most accurate ones, the baseline and the Pareto
front, then a seeded random share of the others, so the figure looks the same on every run and
its caption can say what was left out. The trials are read from the storage once (`TrialView`);
every figure then reads that one list instead of asking the database again."""

from __future__ import annotations

import random
from collections.abc import Container, Iterable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.report.rows import read_trials

__all__ = ["KEEP_BEST", "MAX_POINTS", "Sample", "TrialView", "sample_trials"]

#: trials one figure draws at most (each a marker or a line)
MAX_POINTS = 2000
#: the most accurate complete trials, always drawn
KEEP_BEST = 50


class TrialView(optuna.Study):
    """A study whose trials are a fixed list, read once: Optuna's figures take it as the study.

    ``get_trials`` never copies (the figures only read), and never asks the storage again."""

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial] | None = None) -> None:
        super().__init__(study.study_name, study._storage, sampler=study.sampler, pruner=study.pruner)
        if trials is None:
            trials = study.get_trials(deepcopy=False) if isinstance(study, TrialView) else read_trials(study)
        self._fixed = sorted(trials, key=lambda t: t.number)

    def _get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        return list(self._fixed) if states is None else [t for t in self._fixed if t.state in states]


@dataclass(frozen=True)
class Sample:
    """The trials one figure draws, out of ``total``; ``kept``: how many were drawn for what they are."""

    study: TrialView
    drawn: int
    total: int
    kept: int

    @property
    def sampled(self) -> bool:
        return self.drawn < self.total

    def caption(self, what: str = "complete trials") -> str:
        """ "" when every trial is drawn, else which ones are (for the figure's note)."""
        if not self.sampled:
            return ""
        return (
            f"Drawn: {self.drawn:,} of {self.total:,} {what} — the {self.kept:,} most accurate, the baseline and "
            f"the Pareto front always, and a fixed random {self.drawn - self.kept:,} of the others."
        )


def sample_trials(
    view: TrialView,
    keep: Iterable[FrozenTrial],
    *,
    states: Container[TrialState] = (TrialState.COMPLETE,),
    limit: int = MAX_POINTS,
    seed: int = 0,
) -> Sample:
    """At most ``limit`` of the ``view``'s trials in ``states``: every trial of ``keep`` (the best,
    the baseline, the front), then a seeded random choice of the rest."""
    pool = view.get_trials(deepcopy=False, states=states)
    if len(pool) <= limit:
        return Sample(view, len(pool), len(pool), len(pool))
    wanted = {t.number for t in keep}
    chosen = [t for t in pool if t.number in wanted][:limit]
    rest = [t for t in pool if t.number not in wanted]
    chosen += random.Random(seed).sample(rest, limit - len(chosen))
    return Sample(TrialView(view, chosen), len(chosen), len(pool), len(wanted & {t.number for t in chosen}))
