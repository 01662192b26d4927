"""What `hpo ablate` is asked to walk: ``--from`` and ``--to`` resolved against the search's
trials, the seeds, and how many trainings that is. Each mistake is one `HpoError` line."""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.ablate.path import settings
from hpo.ablate.store import Plan
from hpo.config import StudyConfig
from hpo.errors import HpoError
from hpo.study.study import FINISHED, baseline_trial, best_by_accuracy

__all__ = ["SOURCES", "make_plan", "seeds_for", "trainings"]

SOURCES = ("baseline", "preset")  # besides a trial number


def _trial(study: optuna.Study, flag: str, text: str) -> FrozenTrial:
    trials = study.get_trials(deepcopy=False)
    try:
        number = int(text)
    except ValueError:
        raise HpoError(f"{flag} {text}: not a trial number") from None
    found = next((t for t in trials if t.number == number), None)
    if found is None:
        span = f"trials 0-{trials[-1].number}" if trials else "no trials"
        raise HpoError(f"{flag} {number}: study '{study.study_name}' has no trial {number} ({span})")
    if found.state not in FINISHED:
        raise HpoError(f"{flag} {number}: trial {number} is {found.state.name}, not a finished trial")
    return found


def _source(study: optuna.Study, config: StudyConfig, text: str) -> tuple[str, FrozenTrial]:
    if text == "baseline":
        base = baseline_trial(study)
        if base is None or base.state not in FINISHED:
            raise HpoError(
                f"--from baseline: study '{study.study_name}' has no finished baseline trial "
                f"([study] enqueue_baseline in {config.path}) — name a trial: --from N"
            )
        return f"baseline (trial {base.number})", base
    if text == "preset":
        if not config.study.enqueue:
            raise HpoError(f"--from preset: {config.path} has no [[study.enqueue]] preset — use --from baseline or N")
        preset = config.study.enqueue[0]
        found = [
            t
            for t in study.get_trials(deepcopy=False, states=FINISHED)
            if t.system_attrs.get("fixed_params") == preset or t.params == preset
        ]
        if not found:
            raise HpoError(f"--from preset: no finished trial of study '{study.study_name}' trained the first preset")
        return f"preset (trial {found[0].number})", found[0]
    trial = _trial(study, "--from", text)
    return f"trial {trial.number}", trial


def _target(study: optuna.Study, text: str) -> FrozenTrial:
    if text == "best":
        best = best_by_accuracy(study.get_trials(deepcopy=False))
        if best is None:
            raise HpoError(f"--to best: study '{study.study_name}' has no complete trial yet — run `hpo search` first")
        return best
    trial = _trial(study, "--to", text)
    if trial.state != TrialState.COMPLETE:
        raise HpoError(f"--to {text}: trial {trial.number} was pruned; the target must be a complete trial")
    return trial


def trainings(n_settings: int, seeds: int) -> int:
    """Trainings of a whole path: the source, then n, n-1, ..., 1 candidates, each on every seed."""
    return seeds * (1 + n_settings * (n_settings + 1) // 2)


def seeds_for(wanted: int, n_settings: int, per_training_s: float, budget_s: float | None) -> int:
    """The most seeds up to ``wanted`` whose whole path fits ``budget_s`` (at least one)."""
    if budget_s is None or per_training_s <= 0:
        return wanted
    fits = math.floor(budget_s / (per_training_s * trainings(n_settings, 1)))
    return max(1, min(wanted, fits))


def make_plan(study: optuna.Study, config: StudyConfig, source: str, target: str, seeds: int) -> Plan:
    """The plan from ``source`` (baseline, preset or a trial number) to ``target`` (best or a
    trial number) with ``seeds`` seeds: [study] seed + the target's number, + 1, ...; the first
    is the target's own seed in the search."""
    if config.multi_objective:
        raise HpoError(
            f"study '{study.study_name}' has {len(config.study.objectives)} objectives "
            f"({', '.join(config.study.objectives)}): an ablation path needs a single one (val_accuracy)"
        )
    if seeds < 1:
        raise HpoError(f"--seeds must be at least 1, got {seeds}")
    label, src = _source(study, config, source)
    dst = _target(study, target)
    if not settings(src.params, dst.params):
        same = "is" if src.number == dst.number else f"has the same configuration as trial {dst.number}"
        raise HpoError(f"--from {source} ({label}) {same} the target (--to {target}): there is no path to measure")
    first = config.study.seed + dst.number
    return Plan(
        source=label,
        source_params=dict(src.params),
        target=dst.number,
        target_params=dict(dst.params),
        seeds=[first + i for i in range(seeds)],
        epochs=config.training.max_epochs,
    )
