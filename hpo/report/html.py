"""`hpo report`: one self-contained HTML file (plotly.js inlined, no CDN, works offline).

Every section shows its figure or says in words why there is none (too few complete trials, a
switchable parameter in no complete trial, an export the study records but this host lacks);
figures that leave parameters out list them with the reason.

``--out`` replaces only a report hpo wrote (`check_report_out`: the file starts with `REPORT_HEAD`,
or the head of a report of an earlier hpo), never another file nor a file inside an export."""

from __future__ import annotations

import errno
import html
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import plotly.graph_objects as go

from hpo.config import StudyConfig
from hpo.errors import ModelFileError, OutputError
from hpo.fsutil import shown, write_text
from hpo.records.export import METRICS_FILE, ExportMetrics
from hpo.records.owned import owner_above
from hpo.records.study import ExportRecord
from hpo.report.ablation import ablation_section
from hpo.report.curves import Curves
from hpo.report.figures import SLICE_PARAMS, NoPlot, confusion_figure, per_class_table, states_figure
from hpo.report.params import VIZ, StudyViews
from hpo.report.sample import TrialView
from hpo.report.summary import format_summary, study_summary

__all__ = ["REPORT_HEAD", "Panel", "build_report", "check_report_out", "default_report_path", "report_panels"]

#: how every report hpo writes begins: its mark, read before a file is replaced
REPORT_HEAD = "<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='generator' content='hpo report'>"
_EARLIER_HEAD = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hpo report: "  # before the mark

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: .2rem; } .meta { color: #666; margin-top: 0; }
pre { background: #f6f8fa; padding: 1rem; border-radius: 6px; white-space: pre-wrap; }
section { margin: 2rem 0; } .note { color: #666; font-style: italic; } .why { color: #8a4b00; }
"""


@dataclass
class Panel:
    """One report section: its figure, or ``why_not``; ``left_out``: parameters the figure lacks, and why."""

    title: str
    note: str = ""
    figure: go.Figure | None = None
    why_not: str = ""
    left_out: list[str] = field(default_factory=list)


#: trials drawn by figures whose size grows faster than their points: the contour's grid is the
#: square of its distinct values, the rank plot writes every trial's parameters in each cell
CONTOUR_POINTS = 300
RANK_POINTS = 500
PARALLEL_LINES = 1000


def _panel(title: str, build: Callable[[], go.Figure], note: str = "", left_out: list[str] | None = None) -> Panel:
    try:
        return Panel(title, note, build(), left_out=left_out or [])
    except NoPlot as exc:
        return Panel(title, note, why_not=str(exc), left_out=left_out or [])


def default_report_path(config: StudyConfig) -> Path:
    return config.path.resolve().parent / config.study.name / "report.html"


def _study_panels(study: optuna.Study, config: StudyConfig) -> list[Panel]:
    v = StudyViews(study)
    study = v.study  # the trials, read once
    sliced = [p for p in SLICE_PARAMS if p in v.searched]
    shown = v.in_some_complete(sliced)
    curves = Curves(study, best=[t.number for t in v.keep])
    drawn = v.sample().caption()
    panels = [
        _panel(
            "Optimization history",
            v.history,
            "Every trial's val accuracy and the best so far; dashed line: the seed baseline.",
        ),
        _panel("Learning curves", curves.figure, curves.caption()),
        _panel("Trial states", lambda: states_figure(study, config.training.max_epochs)),
        _panel(
            "Hyperparameter importances",
            v.importances,
            "How much each parameter matters for reaching the best val accuracies (Optuna's PED-ANOVA: the "
            "top 10 % of complete trials against all of them); a switchable parameter over the trials that have it.",
            v.left_out(sorted(v.searched), somewhere=False),
        ),
        _panel(
            "Contour of the two most important parameters",
            lambda: v.plot(VIZ.plot_contour, params=v.top(2), limit=CONTOUR_POINTS),
            _join("Val accuracy interpolated between the complete trials (dots).", v.sample(CONTOUR_POINTS).caption()),
        ),
        _panel(
            "Rank of the most important parameters",
            lambda: v.plot(VIZ.plot_rank, params=v.top(3), limit=RANK_POINTS),
            _join(
                "Each complete trial at its parameter values, coloured by val accuracy: where the good trials gather.",
                v.sample(RANK_POINTS).caption(),
            ),
        ),
        _panel(
            "Parallel coordinates",
            lambda: v.plot(VIZ.plot_parallel_coordinate, limit=PARALLEL_LINES),
            _join(
                "One line per complete trial; a trial without a switchable parameter sits on that axis's 'None' tick.",
                v.sample(PARALLEL_LINES).caption(),
            ),
            v.left_out(sorted(v.searched), somewhere=False),
        ),
        _panel(
            "Slices",
            lambda: v.slices(sliced),
            _join(f"Val accuracy against {', '.join(shown)}." if shown else "", drawn),
            v.left_out(sliced, somewhere=True),
        ),
        _panel(
            "Empirical distribution of val accuracy",
            lambda: v.plot(VIZ.plot_edf, n=2, limit=None),
            "Share of complete trials at or below each val accuracy: the further right the curve rises, "
            "the more of the search found good models.",
        ),
    ]
    if config.multi_objective:
        cost = config.study.objectives[1]
        note = (
            f"Each point a trial: val accuracy against {cost}; the front is the trials no other beats on "
            "both. Multi-objective studies are not pruned (Optuna can't), trials stop early instead."
        )
        panels.insert(0, _panel("Pareto front", lambda: v.pareto(cost), _join(note, drawn)))
    return panels


def _join(note: str, caption: str) -> str:
    return f"{note} {caption}".strip()


def _export_metrics(study: optuna.Study, config: StudyConfig) -> ExportMetrics:
    """The recorded export's metrics.json, resolved against this study file's folder, or `NoPlot`."""
    record = ExportRecord.of(study)
    if record is None:
        if (raw := ExportRecord.unreadable(study)) is not None:
            raise NoPlot(f"the study's export record is not one this hpo reads: {raw}")
        raise NoPlot(f"no export recorded for this study yet (`hpo export {config.path.name}` writes one)")
    study_dir = config.path.resolve().parent
    path = record.folder(study_dir) / METRICS_FILE
    try:
        return ExportMetrics.load(path)
    except ModelFileError as exc:
        if path.exists():  # there but unreadable or garbled: the record says which key
            raise NoPlot(str(exc)) from None
        recorded = (
            "an absolute path, as exports before relative paths recorded it (export again to record it relative)"
            if Path(record.path).is_absolute()
            else f"relative to the study file's folder {study_dir}"
        )
        raise NoPlot(
            f"cannot read {path} ({os.strerror(errno.ENOENT)}); the study records the export as {record.path!r}, "
            f"{recorded}"
        ) from None


def _export_panels(study: optuna.Study, config: StudyConfig) -> list[Panel]:
    try:
        metrics = _export_metrics(study, config)
    except NoPlot as exc:
        return [Panel("Exported model", why_not=str(exc))]
    return [
        _panel("Exported model: confusion matrix", lambda: confusion_figure(metrics)),
        _panel("Exported model: per-class metrics", lambda: per_class_table(metrics)),
    ]


def _ablation_panels(study: optuna.Study) -> list[Panel]:
    """The path `hpo ablate` measured, when the study has an ablation."""
    title = "What mattered: the ablation path"
    try:
        found = ablation_section(study)
    except NoPlot as exc:
        return [Panel(title, why_not=str(exc))]
    return [] if found is None else [Panel(title, found[0], found[1])]


def report_panels(study: optuna.Study, config: StudyConfig) -> list[Panel]:
    """Every section of the report, in order."""
    return _study_panels(study, config) + _ablation_panels(study) + _export_panels(study, config)


def _section(panel: Panel, with_plotly: bool) -> str:
    parts = [f"<section><h2>{html.escape(panel.title)}</h2>"]
    if panel.note:
        parts.append(f"<p class='note'>{html.escape(panel.note)}</p>")
    if panel.figure is None:
        parts.append(f"<p class='why'>Not drawn: {html.escape(panel.why_not)}.</p>")
    else:
        panel.figure.update_layout(template="plotly_white", height=480)
        parts.append(panel.figure.to_html(full_html=False, include_plotlyjs=with_plotly))
    if panel.left_out:
        items = "".join(f"<li>{html.escape(why)}</li>" for why in panel.left_out)
        parts.append(f"<div class='why'>Parameters not shown:<ul class='left-out'>{items}</ul></div>")
    return "".join(parts) + "</section>"


def check_report_out(out: Path) -> None:
    """An `OutputError` (one line) unless ``out`` is new or a report hpo wrote, outside any
    export or prepared data."""
    flag = f"--out {shown(out)}"
    try:
        owner = owner_above(out)
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python < 3.13)
        raise OutputError(f"{flag} is inside a symbolic link loop — name another file") from None
    if owner is not None:
        raise OutputError(f"{flag} is inside {owner} — write the report elsewhere")
    if not out.exists() and not out.is_symlink():
        return
    head = b""
    if out.is_file() and not out.is_symlink():  # a link, a folder, a FIFO is not one of hpo's reports
        try:
            with out.open("rb") as fh:
                head = fh.read(len(REPORT_HEAD.encode()))
        except OSError as exc:
            raise OutputError(f"{flag} cannot be read ({exc.strerror or exc}) — name another file") from None
    if not head.decode("utf-8", "replace").startswith((REPORT_HEAD, _EARLIER_HEAD)):
        raise OutputError(
            f"{flag} is not a report written by `hpo report`, so it is not replaced — name another file, or move it"
        )


def build_report(study: optuna.Study, config: StudyConfig, out: Path) -> Path:
    """Write the report to ``out`` (new, or a report hpo wrote: `check_report_out`) and return it."""
    check_report_out(out)
    study = TrialView(study)  # one read of the storage for every section
    panels = report_panels(study, config)
    first = next((i for i, p in enumerate(panels) if p.figure is not None), -1)
    sections = "".join(_section(p, i == first) for i, p in enumerate(panels))
    summary = html.escape(format_summary(study_summary(study, config)))
    page = (
        f"{REPORT_HEAD}<title>hpo report: {html.escape(study.study_name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Study {html.escape(study.study_name)}</h1>"
        f"<p class='meta'>{html.escape(str(config.path))} — generated {time.strftime('%Y-%m-%d %H:%M')}</p>"
        f"<pre>{summary}</pre>{sections}</body></html>"
    )
    write_text(out, page)
    return out
