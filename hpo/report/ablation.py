"""The report's ablation section: the path `hpo ablate` measured, as a plotly waterfall (the
source's val accuracy, each step's gain, the target's), read back from ``<study>-ablation``."""

from __future__ import annotations

import math

import optuna
import plotly.graph_objects as go

from hpo.ablate.path import Path
from hpo.ablate.store import Plan, find_ablation, stored_path
from hpo.ablate.table import rows
from hpo.errors import NoPlot

__all__ = ["ablation_note", "ablation_section", "waterfall_figure"]


def waterfall_figure(plan: Plan, path: Path) -> go.Figure:
    """Source, one bar per step (its gain over the step before, mean over the seeds), and the end."""
    table = rows(plan, path)
    if not table or math.isnan(table[0].mean):
        raise NoPlot("the ablation has not measured its source configuration yet (run `hpo ablate`)")
    labels = [f"source: {plan.source}"] + [f"{r.step}. {r.setting}" for r in table[1:]]
    values = [table[0].mean] + [0.0 if math.isnan(r.gain) else r.gain for r in table[1:]]
    hover = [r.change for r in table]
    end = "target" if path.complete else "last step"
    fig = go.Figure(
        go.Waterfall(
            x=[*labels, f"{end} (trial {plan.target})" if path.complete else end],
            y=[*values, 0.0],
            measure=["absolute"] + ["relative"] * (len(values) - 1) + ["total"],
            text=[f"{values[0]:.3f}"] + [f"{100 * v:+.1f} pt" for v in values[1:]] + [f"{table[-1].mean:.3f}"],
            hovertext=[*hover, f"val accuracy {table[-1].mean:.4f}"],
            textposition="outside",
            connector={"line": {"color": "#999"}},
        )
    )
    low = min(r.mean for r in table if not math.isnan(r.mean))
    fig.update_layout(yaxis_title="val accuracy (mean over seeds)", yaxis_range=[max(0.0, low - 0.1), None],
                      showlegend=False)  # fmt: skip
    return fig


def ablation_note(plan: Plan, path: Path) -> str:
    seeds = f"{len(plan.seeds)} seed(s)"
    state = "reached the target" if path.complete else f"stopped after step {len(path.steps) - 1} (not finished)"
    return (
        f"`hpo ablate` from {plan.source} to trial {plan.target}: each step kept the one setting (of the target's) "
        f"that gained most val accuracy, {seeds} per configuration, up to {plan.epochs} epochs; the path {state}. "
        "Hover a bar for the values it changed."
    )


def ablation_section(study: optuna.Study) -> tuple[str, go.Figure] | None:
    """(note, figure) of the study's ablation, None when it has none; `NoPlot` when it has
    one without a measured source."""
    ablation = find_ablation(study)
    found = stored_path(ablation) if ablation is not None else None
    if found is None:
        return None
    plan, path = found
    return ablation_note(plan, path), waterfall_figure(plan, path)
