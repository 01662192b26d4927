"""Plotly figures for the study report. `optuna.visualization` where it fits; custom figures
for what it lacks (the baseline line, pruned learning curves, state counts, the export).

A figure that can't be drawn raises `NoPlot` with the reason in words; no function here returns
an empty figure."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import optuna
import plotly.graph_objects as go
from optuna.trial import TrialState

from hpo.errors import NoPlot
from hpo.records.export import ExportMetrics
from hpo.report.curves import STATE_STYLE
from hpo.study.study import accuracy, baseline_trial, epochs_run

__all__ = [
    "SLICE_PARAMS",
    "NoPlot",
    "confusion_figure",
    "has_data",
    "history_figure",
    "on_accuracy",
    "optuna_figure",
    "pareto_figure",
    "per_class_table",
    "states_figure",
]

SLICE_PARAMS = ("learning_rate", "batch_size", "dropout", "l2", "depth")


def has_data(fig: go.Figure) -> bool:
    """Whether any trace of ``fig`` has a point, a cell or a line to draw."""
    for trace in fig.data:
        arrays = [getattr(trace, key, None) for key in ("x", "y", "z")]
        if isinstance(trace, go.Parcoords):
            arrays += [d["values"] for d in trace.dimensions]
        if isinstance(trace, go.Table):
            arrays += list(trace.cells.values or [])
        if any(a is not None and len(a) > 0 for a in arrays):
            return True
    return False


def optuna_figure(make: Callable[..., go.Figure], study: optuna.Study, **kw: Any) -> go.Figure:
    """An `optuna.visualization` figure; `NoPlot` with Optuna's own words when it refuses, or when
    it draws nothing (callers check what they can name more exactly first)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig = make(study, **kw)
    except (ValueError, RuntimeError, ZeroDivisionError, ImportError) as exc:
        raise NoPlot(f"Optuna could not draw it: {exc}") from None
    if not has_data(fig):
        raise NoPlot(f"Optuna drew an empty figure ({make.__name__} on {len(study.trials)} trials)")
    return fig


def on_accuracy(study: optuna.Study) -> dict[str, Any]:
    """Keyword arguments that point an optuna plot at val accuracy (the first objective)."""
    kw: dict[str, Any] = {"target_name": "val_accuracy"}
    if len(study.directions) > 1:
        kw["target"] = lambda t: t.values[0]
    return kw


def history_figure(study: optuna.Study) -> go.Figure:
    fig = optuna_figure(optuna.visualization.plot_optimization_history, study, **on_accuracy(study))
    base = baseline_trial(study)
    value = accuracy(base) if base is not None and base.state == TrialState.COMPLETE else None
    if base is not None and value is not None:
        fig.add_hline(
            y=value,
            line_dash="dash",
            line_color="black",
            annotation_text=f"baseline (trial {base.number}): {value:.4f}",
            annotation_position="bottom right",
        )
    return fig


def pareto_figure(study: optuna.Study, cost: str) -> go.Figure:
    """Optuna's Pareto-front plot with the baseline marked."""
    fig = optuna_figure(optuna.visualization.plot_pareto_front, study, target_names=["val_accuracy", cost])
    base = baseline_trial(study)
    if base is not None and base.values is not None:
        fig.add_trace(
            go.Scatter(
                x=[base.values[0]],
                y=[base.values[1]],
                mode="markers+text",
                name="baseline",
                text=[f"baseline (trial {base.number})"],
                textposition="top center",
                marker={"symbol": "star", "size": 16, "color": "black"},
            )
        )
    return fig


def states_figure(study: optuna.Study, max_epochs: int) -> go.Figure:
    """Trial counts by state, and epochs trained vs. the budget without pruning."""
    trials = study.get_trials(deepcopy=False)
    if not trials:
        raise NoPlot("the study has no trials yet")
    states = [s for s in TrialState if any(t.state == s for t in trials)]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    spent = sum(epochs_run(t) for t in trials)
    budget = len(finished) * max_epochs
    fig = go.Figure(
        go.Bar(
            x=[s.name.lower() for s in states],
            y=[sum(t.state == s for t in trials) for s in states],
            marker_color=[STATE_STYLE.get(s, ("#999999", ""))[0] for s in states],
        )
    )
    saved = (
        f"; pruning saved {budget - spent} of {budget} epochs ({100 * (budget - spent) / budget:.0f} %)"
        if budget
        else ""
    )
    fig.update_layout(title=f"Trials by state — {spent} epochs trained{saved}", yaxis_title="trials")
    return fig


def confusion_figure(metrics: ExportMetrics) -> go.Figure:
    """The export's confusion matrix on the test split (true class down, predicted across)."""
    labels = [c.label for c in metrics.test.per_class]
    cm = metrics.test.confusion_matrix
    fig = go.Figure(
        go.Heatmap(z=cm, x=labels, y=labels, colorscale="Blues", text=cm, texttemplate="%{text}", showscale=False)
    )
    fig.update_layout(
        title=f"Confusion matrix of the export (test split, accuracy {metrics.test_accuracy:.4f})",
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
    )
    return fig


def per_class_table(metrics: ExportMetrics) -> go.Figure:
    """The export's precision, recall, F1 and support per class on the test split."""
    rows = metrics.test.per_class
    cols = [
        [r.label for r in rows],
        [f"{r.precision:.3f}" for r in rows],
        [f"{r.recall:.3f}" for r in rows],
        [f"{r.f1:.3f}" for r in rows],
        [r.support for r in rows],
    ]
    fig = go.Figure(go.Table(header={"values": ["class", "precision", "recall", "F1", "n"]}, cells={"values": cols}))
    fig.update_layout(title="Per-class metrics of the export (test split)")
    return fig
