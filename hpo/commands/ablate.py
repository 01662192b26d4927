"""`hpo ablate`: the measured path from a source configuration to the best trial."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from hpo.commands.search import ENV_HELP
from hpo.commands.study_file import study_config

__all__ = ["register"]

DESCRIPTION = """\
Which of the best trial's settings made it better? Starting from the source configuration, each
step trains every configuration that takes one more of the target's settings and keeps the one
that gains most val accuracy, until the target is reached (a greedy ablation path; at most one
step per setting that differs). A setting moves with its on/off switch and with the parameters
that exist only under one of its values (weight decay with AdamW). Every training is a trial of
the study <name>-ablation in the same storage, trained as a search trial is (same data, early
stopping, the study's max_epochs, no pruner) with the seeds [study] seed + target number, +1, ...:
re-running resumes without retraining a finished configuration, the same command in several
terminals or hosts on one storage shares the work, and the dashboard shows it. `hpo report` draws
the path as a waterfall and `hpo export` names its three largest gains in the model card."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ablate",
        help="measure which of the best trial's settings carried its gain (greedy ablation path)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study", metavar="STUDY.toml", help="study file of a finished search")
    p.add_argument("--from", dest="source", default="baseline", metavar="baseline|preset|TRIAL",
                   help="source configuration: the seed baseline (default), the first [[study.enqueue]] "
                        "preset, or a trial number")  # fmt: skip
    p.add_argument("--to", dest="target", default="best", metavar="best|TRIAL",
                   help="target: the best complete trial (default) or a trial number")  # fmt: skip
    p.add_argument("--seeds", type=int, default=1, metavar="K",
                   help="seeds per configuration (mean ± sd; fewer when --budget-min cannot afford K)")  # fmt: skip
    p.add_argument("--budget-min", type=float, metavar="M",
                   help="minutes: stop after the last step that fits (from the target's training time)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="JSON lines (one per step, then one for the path) on stdout")
    p.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
    p.add_argument("--data", metavar="DIR", help="prepared folder or class folder, instead of [data] source")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_ablate)


def _print_err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _epoch_line(emit: Callable[[str], None]) -> Callable[[int, int, int, float | None], None]:
    """-v: one line per epoch of the training under way."""

    def line(trial: int, epoch: int, epochs: int, value: float | None) -> None:
        emit(f"    trial {trial} epoch {epoch}/{epochs}" + (f" val {value:.4f}" if value is not None else ""))

    return line


def _ablate(args: argparse.Namespace) -> int:
    from hpo.ablate.path import settings
    from hpo.ablate.plan import make_plan, seeds_for, trainings
    from hpo.ablate.run import run_ablation
    from hpo.ablate.table import format_table, json_lines
    from hpo.api import Study
    from hpo.errors import HpoError, SearchInterrupted
    from hpo.study.progress import format_duration
    from hpo.workers.process import install_signal_handlers, interrupted_exit_code

    study = Study(study_config(args))
    config = study.config
    search = study.optuna_study()
    plan = make_plan(search, config, args.source, args.target, args.seeds)
    if args.budget_min is not None and args.budget_min <= 0:
        raise HpoError(f"--budget-min must be positive, got {args.budget_min}")
    budget_s = args.budget_min * 60 if args.budget_min is not None else None
    target = next(t for t in search.get_trials(deepcopy=False) if t.number == plan.target)
    estimate = target.duration.total_seconds() if target.duration else 60.0
    n = len(settings(plan.source_params, plan.target_params))
    k = seeds_for(args.seeds, n, estimate, budget_s)
    plan = type(plan)(**{**vars(plan), "seeds": plan.seeds[:k]})
    emit = _print_err if args.json else (lambda line: print(line, flush=True))
    emit(f"Ablation of study {config.study.name}: {plan.source} -> trial {plan.target}, {n} setting(s) differ, "
         f"at most {trainings(n, k)} trainings of ~{estimate / 60:.1f} min, {k} seed(s)"
         + (f" (the budget allows {k} of the {args.seeds} asked for)" if k < args.seeds else ""))  # fmt: skip
    started = time.perf_counter()
    data = study.data(args.data, progress=not args.no_progress)
    install_signal_handlers()
    try:
        outcome = run_ablation(config, data, plan, estimate_s=estimate, budget_s=budget_s, emit=emit,
                               on_epoch=_epoch_line(emit) if args.verbose else None)  # fmt: skip
    except SearchInterrupted as exc:
        emit(f"Stopped by signal ({exc}). Run the same command again to resume.")
        return interrupted_exit_code()
    if args.json:
        print("\n".join(json_lines(plan, outcome.path)), flush=True)
    else:
        print(format_table(plan, outcome.path))
    if outcome.stopped:
        emit(f"Stopped early: {outcome.stopped}. Run again with a larger --budget-min to go on (nothing is retrained).")
    wall = format_duration(time.perf_counter() - started)
    emit(f"Wall time {wall}, {outcome.trained} training(s) here. Next: hpo report {args.study}")
    return 0
