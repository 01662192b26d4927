"""What a study found, as data (for `--json`) and as text (for the terminal). No TensorFlow."""

from __future__ import annotations

from typing import Any, TypedDict

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.config import StudyConfig
from hpo.records.trial import TrialRecord, is_baseline
from hpo.study.study import FINISHED, accuracy, baseline_trial, best_by_accuracy, epochs_run, feasible, pareto_front

__all__ = [
    "StudySummary",
    "TrialSummary",
    "format_summary",
    "format_trials",
    "format_value",
    "study_summary",
    "trial_record",
]


class TrialSummary(TypedDict):
    """One trial as ``hpo trials --json`` prints it."""

    number: int
    state: str
    val_accuracy: float | None
    values: list[float] | None
    epochs: int
    seconds: float | None
    baseline: bool
    feasible: bool
    params: dict[str, Any]
    train_val_gap: float | None
    user_attrs: dict[str, Any]


class StudySummary(TypedDict):
    """What a study found, as ``hpo best --json`` prints it."""

    study: str
    counts: dict[str, int]  # trial state (lower case) -> trials
    finished: int
    cap: int
    epochs_run: int
    epochs_unpruned: int  # what the finished trials would have cost without pruning
    best: TrialSummary | None
    baseline: TrialSummary | None
    objectives: list[str]
    max_train_val_gap: float | None
    feasible: int
    pareto_front: list[TrialSummary] | None


def trial_record(trial: FrozenTrial) -> TrialSummary:
    return {
        "number": trial.number,
        "state": trial.state.name,
        "val_accuracy": accuracy(trial),
        "values": trial.values,
        "epochs": epochs_run(trial),
        "seconds": trial.duration.total_seconds() if trial.duration else None,
        "baseline": is_baseline(trial),
        "feasible": feasible(trial),
        "params": trial.params,
        "train_val_gap": TrialRecord.of(trial).train_val_gap,
        "user_attrs": trial.user_attrs,
    }


def study_summary(study: optuna.Study, config: StudyConfig) -> StudySummary:
    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    finished = [t for t in trials if t.state in FINISHED]
    best = best_by_accuracy(trials)
    base = baseline_trial(study)
    spent = sum(epochs_run(t) for t in trials)
    return {
        "study": study.study_name,
        "counts": counts,
        "finished": len(finished),
        "cap": config.study.n_trials,
        "epochs_run": spent,
        "epochs_unpruned": len(finished) * config.training.max_epochs,
        "best": trial_record(best) if best else None,
        "baseline": trial_record(base) if base else None,
        "objectives": list(config.study.objectives),
        "max_train_val_gap": config.study.max_train_val_gap,
        "feasible": sum(t.state == TrialState.COMPLETE and feasible(t) for t in trials),
        "pareto_front": [trial_record(t) for t in pareto_front(study)] if config.multi_objective else None,
    }


def format_summary(summary: StudySummary) -> str:
    c = summary["counts"]
    lines = [
        f"Study {summary['study']}: {summary['finished']}/{summary['cap']} trials finished "
        f"({c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed)",
    ]
    if summary["epochs_unpruned"]:
        share = 100 * summary["epochs_run"] / summary["epochs_unpruned"]
        lines.append(
            f"Epochs: {summary['epochs_run']} trained of {summary['epochs_unpruned']} without pruning ({share:.0f} %)"
        )
    best, base = summary["best"], summary["baseline"]
    if best is None:
        lines.append("No completed trial yet.")
        return "\n".join(lines)
    gap = best["train_val_gap"]
    lines.append(
        f"Best: trial {best['number']}, val_accuracy {best['val_accuracy']:.4f}"
        + (f" (train-val gap {gap:+.4f})" if gap is not None else "")
    )
    if summary["max_train_val_gap"] is not None:
        lines.append(
            f"Gap limit {summary['max_train_val_gap']:g}: {summary['feasible']} of {c['complete']} complete trials "
            "within it" + ("" if best["feasible"] else " — none, so the best is over the limit")
        )
    if base is not None and base["val_accuracy"] is not None and best["val_accuracy"] is not None:
        gain = 100 * (best["val_accuracy"] - base["val_accuracy"])
        lines.append(
            f"Baseline (trial {base['number']}, {base['state'].lower()}): val_accuracy "
            f"{base['val_accuracy']:.4f} -> search {gain:+.1f} points"
        )
    params = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(best["params"].items()))
    lines.append(f"Best params: {params}")
    if summary["pareto_front"]:
        cost = summary["objectives"][1]
        lines.append(f"Pareto front (val_accuracy up, {cost} down), {len(summary['pareto_front'])} trials:")
        for r in summary["pareto_front"]:
            tag = "  [baseline]" if r["baseline"] else ""
            acc, spent = r["values"] or (float("nan"), float("nan"))  # a Pareto trial is complete: it has both
            lines.append(f"  trial {r['number']:>4}  val_accuracy {acc:.4f}  {cost} {spent:.4g}{tag}")
    return "\n".join(lines)


def format_value(v: Any) -> str:
    """A parameter value as trial lines print it (floats to 3 significant digits)."""
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def format_trials(trials: list[FrozenTrial]) -> str:
    """A table of ``trials``, one row each."""
    header = f"{'#':>4}  {'state':<8} {'val_acc':>8} {'epochs':>6} {'secs':>7}  params"
    rows = [header]
    for t in trials:
        r = trial_record(t)
        acc = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "-"
        secs = f"{r['seconds']:.1f}" if r["seconds"] is not None else "-"
        tag = "[baseline] " if r["baseline"] else ""
        params = " ".join(f"{k}={format_value(v)}" for k, v in sorted(t.params.items()))
        rows.append(f"{t.number:>4}  {t.state.name:<8} {acc:>8} {r['epochs']:>6} {secs:>7}  {tag}{params}")
    return "\n".join(rows)
