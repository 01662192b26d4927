"""The report of a big study: a few thousand synthetic trials (in Optuna's in-memory storage, made
with `create_trial`) give a report under its size bound whose sampled figures still draw the best
trial, and on two objectives every trial of the Pareto front."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
import plotly.graph_objects as go
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hpo.config import load_config
from hpo.report.html import Panel, build_report, report_panels
from hpo.report.sample import TrialView
from tests.helpers.studyfiles import write_study

N = 3000
#: plotly.js (about 4.8 MB) and figures that do not grow with the study
MAX_MB = 12
SPACE = {
    "learning_rate": FloatDistribution(1e-4, 3e-2, log=True),
    "batch_size": CategoricalDistribution([16, 32, 64]),
    "dropout": FloatDistribution(0.0, 0.5),
    "depth": IntDistribution(1, 4),
}


def _trials(n: int, objectives: int, seed: int = 0) -> list[optuna.trial.FrozenTrial]:
    """``n`` trials of 6 epochs, 1 in 3 pruned (single objective), accuracy peaking at lr 3e-3."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        params = {
            "learning_rate": 10 ** rng.uniform(-4, -1.53),
            "batch_size": rng.choice([16, 32, 64]),
            "dropout": rng.uniform(0, 0.5),
            "depth": rng.randint(1, 4),
        }
        top = 0.9 - 0.1 * abs(params["learning_rate"] - 3e-3) * 100 - 0.2 * rng.random()
        pruned = objectives == 1 and rng.random() < 1 / 3
        curve = [top * (1 - 0.5 ** (e + 1)) for e in range(2 if pruned else 6)]
        values = None if pruned else ([max(curve)] if objectives == 1 else [max(curve), rng.uniform(1e4, 1e6)])
        out.append(
            create_trial(
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                params=params,
                distributions=SPACE,
                values=values,
                intermediate_values=dict(enumerate(curve)) if objectives == 1 else None,
                user_attrs={} if objectives == 1 else {"val_accuracy_curve": curve},
            )
        )
    return out


def _study(tmp_path: Path, objectives: int) -> tuple[optuna.Study, Path]:
    extra = {"objectives": ["val_accuracy", "params"]} if objectives == 2 else {}
    pruner = {"type": "none", "min_resource": None, "reduction_factor": None} if objectives == 2 else {}
    toml = write_study(tmp_path, f"big{objectives}", tmp_path, study=extra, pruner=pruner)
    study = optuna.create_study(directions=["maximize", "minimize"][:objectives])
    study.add_trials(_trials(N, objectives))
    return study, toml


def _points(fig: go.Figure) -> set[tuple[float, ...]]:
    """Every (x, y) a figure's markers draw, and every value alone (for one-axis figures)."""
    found: set[tuple[float, ...]] = set()
    for trace in fig.data:
        xs, ys = getattr(trace, "x", None), getattr(trace, "y", None)
        if xs is not None and ys is not None:
            found |= {(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None}
            found |= {(float(y),) for y in ys if isinstance(y, float)}
    return found


def _figures(panels: list[Panel]) -> dict[str, go.Figure]:
    return {p.title: p.figure for p in panels if p.figure is not None}


def test_a_big_report_stays_small_and_keeps_the_best(tmp_path: Path) -> None:
    study, toml = _study(tmp_path, 1)
    config = load_config(toml)
    out = build_report(study, config, tmp_path / "report.html")
    assert out.stat().st_size < MAX_MB * 1e6, f"{out.stat().st_size / 1e6:.1f} MB"
    best = study.best_trial
    panels = report_panels(TrialView(study), config)
    figures = _figures(panels)
    for title in ("Slices", "Optimization history"):
        assert (best.value,) in _points(figures[title]), f"{title} lost the best trial"
    lines = [t.customdata for t in figures["Parallel coordinates"].data if t.customdata is not None]
    assert 500 < len(lines) <= 1000
    assert ["val_accuracy", f"{best.value:.3g}"] in [list(c[0]) for c in lines]
    rank = [text for t in figures["Rank of the most important parameters"].data for text in (t.hovertext or ())]
    assert any(text.startswith(f"Trial #{best.number}<br>") for text in rank), "the rank plot lost the best trial"
    notes = {p.title: p.note for p in panels}
    assert "Drawn: 1,000 of 2,0" in notes["Parallel coordinates"]  # about 2,000 complete trials
    assert "Shaded: the middle 80 %" in notes["Learning curves"]
    curves = figures["Learning curves"]
    assert sum(t.name not in {"complete", "pruned", "baseline"} for t in curves.data) == 6  # 2 bands, 2 medians
    assert len(curves.data) <= 200 + 6


def test_a_small_report_draws_every_trial(tmp_path: Path) -> None:
    study, toml = _study(tmp_path, 1)
    small = optuna.create_study(direction="maximize")
    small.add_trials(study.trials[:100])
    panels = report_panels(TrialView(small), load_config(toml))
    assert all("Drawn:" not in p.note and "Shaded" not in p.note for p in panels)
    curves = _figures(panels)["Learning curves"]
    assert len(curves.data) == 100  # one line per trial, as before


@pytest.mark.parametrize("objectives", [2])
def test_the_pareto_front_survives_the_sample(tmp_path: Path, objectives: int) -> None:
    study, toml = _study(tmp_path, objectives)
    panels = report_panels(TrialView(study), load_config(toml))
    figure = _figures(panels)["Pareto front"]
    front = {(t.values[0], t.values[1]) for t in study.best_trials}
    assert front and front <= _points(figure)
    assert "Drawn: 2,000 of 3,000" in {p.title: p.note for p in panels}["Pareto front"]
