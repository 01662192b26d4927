"""`hpo report`: one self-contained HTML file (plotly.js inlined, no CDN, works offline)."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import optuna
import plotly.graph_objects as go

from hpo.config import StudyConfig
from hpo.fsutil import read_json, write_text
from hpo.report_figures import (
    SLICE_PARAMS,
    confusion_figure,
    history_figure,
    learning_curves,
    on_accuracy,
    optuna_figure,
    pareto_figure,
    per_class_table,
    states_figure,
)
from hpo.study import EXPORT_ATTR
from hpo.summary import format_summary, study_summary

__all__ = ["build_report", "default_report_path"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: .2rem; } .meta { color: #666; margin-top: 0; }
pre { background: #f6f8fa; padding: 1rem; border-radius: 6px; white-space: pre-wrap; }
section { margin: 2rem 0; } .note { color: #666; font-style: italic; }
"""


def default_report_path(config: StudyConfig) -> Path:
    return config.path.resolve().parent / config.study.name / "report.html"


def _export_metrics(study: optuna.Study) -> dict[str, Any] | None:
    record = study.user_attrs.get(EXPORT_ATTR)
    if not isinstance(record, dict):
        return None
    path = Path(str(record.get("path", ""))) / "metrics.json"
    try:
        metrics = read_json(path)
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def _sections(study: optuna.Study, config: StudyConfig) -> list[tuple[str, go.Figure | None, str]]:
    params = {p for t in study.get_trials(deepcopy=False) for p in t.params}
    sliced = [p for p in SLICE_PARAMS if p in params]
    acc = on_accuracy(study)
    sections: list[tuple[str, go.Figure | None, str]] = [
        ("Optimization history", history_figure(study), "Best val accuracy so far; dashed line: the seed baseline."),
        ("Learning curves", learning_curves(study), "Val accuracy per epoch; dotted orange: pruned trials."),
        ("Trial states", states_figure(study, config.training.max_epochs), ""),
        (
            "Hyperparameter importances",
            optuna_figure(optuna.visualization.plot_param_importances, study, **acc),
            "fANOVA importance of each parameter for val accuracy (needs several complete trials).",
        ),
        ("Parallel coordinates", optuna_figure(optuna.visualization.plot_parallel_coordinate, study, **acc), ""),
        (
            "Slices",
            optuna_figure(optuna.visualization.plot_slice, study, params=sliced, **acc) if sliced else None,
            f"Val accuracy against {', '.join(sliced)}.",
        ),
    ]
    if config.multi_objective:
        cost = config.study.objectives[1]
        note = (
            f"Each point a trial: val accuracy against {cost}; the front is the trials no other beats on "
            "both. Multi-objective studies are not pruned (Optuna can't), trials stop early instead."
        )
        sections.insert(0, ("Pareto front", pareto_figure(study, cost), note))
    metrics = _export_metrics(study)
    if metrics is not None:
        sections.append(("Exported model: confusion matrix", confusion_figure(metrics), ""))
        sections.append(("Exported model: per-class metrics", per_class_table(metrics), ""))
    return sections


def build_report(study: optuna.Study, config: StudyConfig, out: Path) -> Path:
    """Write the report to ``out`` and return it."""
    parts: list[str] = []
    plotly_included = False
    for title, fig, note in _sections(study, config):
        parts.append(f"<section><h2>{html.escape(title)}</h2>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        if fig is None:
            parts.append("<p class='note'>Not enough finished trials for this plot yet.</p>")
        else:
            fig.update_layout(template="plotly_white", height=480)
            parts.append(fig.to_html(full_html=False, include_plotlyjs=not plotly_included))
            plotly_included = True
        parts.append("</section>")
    summary = html.escape(format_summary(study_summary(study, config)))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>hpo report: {html.escape(study.study_name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Study {html.escape(study.study_name)}</h1>"
        f"<p class='meta'>{html.escape(str(config.path))} — generated {time.strftime('%Y-%m-%d %H:%M')}</p>"
        f"<pre>{summary}</pre>{''.join(parts)}</body></html>"
    )
    write_text(out, page)
    return out
