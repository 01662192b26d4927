"""The report's learning curves: every trial's curve in a small study; in a big one, per-epoch
quantile bands over all trials and the curves of a bounded set (the most accurate, the
baseline, a fixed random share of the others), as TensorBoard and W&B draw long runs."""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import optuna
import plotly.graph_objects as go
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import NoPlot
from hpo.study.study import baseline_trial, val_curve

__all__ = ["MAX_CURVES", "STATE_STYLE", "Curves"]

#: curves drawn one by one at most; above it, the rest are in the bands
MAX_CURVES = 200
STATE_STYLE = {
    TrialState.COMPLETE: ("#1f77b4", "solid"),
    TrialState.PRUNED: ("#ff7f0e", "dot"),
    TrialState.FAIL: ("#999999", "dash"),
    TrialState.RUNNING: ("#2ca02c", "solid"),
}
_BAND = {TrialState.COMPLETE: "rgba(31,119,180,0.18)", TrialState.PRUNED: "rgba(255,127,14,0.18)"}


@dataclass
class Curves:
    """Val accuracy per epoch of a study's trials; ``best``: trial numbers always drawn one by one."""

    study: optuna.Study
    best: Collection[int] = ()
    limit: int = MAX_CURVES

    def __post_init__(self) -> None:
        self.trials = [(t, c) for t in self.study.get_trials(deepcopy=False) if (c := val_curve(t))]
        self.base = baseline_trial(self.study)

    @property
    def banded(self) -> bool:
        return len(self.trials) > self.limit

    def caption(self) -> str:
        if not self.banded:
            return "Val accuracy per epoch; dotted orange: pruned trials."
        return (
            f"Shaded: the middle 80 % (10th to 90th percentile) of all {len(self.trials):,} trials per epoch and "
            f"state, with its median dashed; lines: {self.limit:,} trials — the most accurate, the baseline (and "
            "the Pareto front) always, a fixed random share of the others; dotted orange: pruned trials."
        )

    def _drawn(self) -> list[tuple[FrozenTrial, dict[int, float]]]:
        if not self.banded:
            return self.trials
        base = {self.base.number} if self.base is not None else set()
        kept = [tc for tc in self.trials if tc[0].number in set(self.best) | base][: self.limit]
        rest = [tc for tc in self.trials if tc[0].number not in set(self.best) | base]
        chosen = kept + random.Random(0).sample(rest, self.limit - len(kept))
        return sorted(chosen, key=lambda tc: tc[0].number)

    def figure(self) -> go.Figure:
        if not self.trials:
            raise NoPlot("no trial has finished an epoch yet")
        fig = go.Figure()
        if self.banded:
            for state in (TrialState.COMPLETE, TrialState.PRUNED):
                self._band(fig, state)
        shown: set[TrialState] = set()
        for t, curve in self._drawn():
            is_base = self.base is not None and t.number == self.base.number
            self._line(fig, t, curve, is_base, first=t.state not in shown)
            if not is_base:
                shown.add(t.state)
        fig.update_layout(title="Learning curves", xaxis_title="epoch", yaxis_title="val_accuracy")
        return fig

    def _band(self, fig: go.Figure, state: TrialState) -> None:
        by_epoch: dict[int, list[float]] = {}
        for t, curve in self.trials:
            if t.state == state:
                for step, value in curve.items():
                    by_epoch.setdefault(step, []).append(value)
        if not by_epoch:
            return
        epochs = sorted(by_epoch)
        lo, mid, hi = ([float(np.percentile(by_epoch[e], q)) for e in epochs] for q in (10, 50, 90))
        x = [e + 1 for e in epochs]
        name, color = state.name.lower(), STATE_STYLE[state][0]
        group = f"{name} band"
        fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0}, legendgroup=group, showlegend=False,
                                 hoverinfo="skip"))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x,
                y=lo,
                mode="lines",
                fill="tonexty",
                fillcolor=_BAND[state],
                line={"width": 0},
                name=f"{name}: 10 to 90 %",
                legendgroup=group,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=mid,
                mode="lines",
                line={"color": color, "dash": "dash", "width": 2},
                name=f"{name}: median",
                legendgroup=group,
                hovertemplate=f"{name} median<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )

    @staticmethod
    def _line(fig: go.Figure, t: FrozenTrial, curve: dict[int, float], is_base: bool, first: bool) -> None:
        steps = sorted(curve)
        color, dash = STATE_STYLE.get(t.state, ("#999999", "dash"))
        fig.add_trace(
            go.Scatter(
                x=[s + 1 for s in steps],
                y=[curve[s] for s in steps],
                mode="lines+markers",
                name="baseline" if is_base else t.state.name.lower(),
                legendgroup="baseline" if is_base else t.state.name,
                showlegend=is_base or first,
                line={"color": "black" if is_base else color, "dash": dash, "width": 3 if is_base else 1},
                marker={"size": 4},
                hovertemplate=f"trial {t.number} ({t.state.name.lower()})<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
