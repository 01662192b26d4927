"""`hpo trials | best`: what a study holds, as a table or as JSON for pipes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hpo.commands.search import ENV_HELP
from hpo.commands.study_file import study_config

__all__ = ["register"]


def _trials(args: argparse.Namespace) -> int:
    from hpo.report.listing import TrialQuery, json_lines, parse_states
    from hpo.report.summary import format_trials
    from hpo.study.study import load_study

    query = TrialQuery(parse_states(args.state), args.sort, args.limit)  # checked before the storage is read
    trials = query.trials(load_study(study_config(args)))
    if args.json:
        for line in json_lines(trials):
            print(line)
    else:
        print(format_trials(trials))
    return 0


def _best(args: argparse.Namespace) -> int:
    from hpo.report.sample import TrialView
    from hpo.report.summary import format_summary, study_summary
    from hpo.study.study import load_study

    config = study_config(args)
    summary = study_summary(TrialView(load_study(config)), config)  # the trials read once, in one SQL pass
    print(json.dumps(summary, default=str) if args.json else format_summary(summary))
    return 0


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY.toml", help="study file")
    p.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")


def register(sub: Any) -> None:
    from hpo.report.listing import SORT_KEYS

    sorts = "; ".join(f"{k}: {v}" for k, v in SORT_KEYS.items())
    t = sub.add_parser(
        "trials",
        help="table of the study's trials: state, val accuracy, epochs, seconds, params",
        description=(
            "One row per trial: number, state, val accuracy, epochs trained, seconds, params. "
            "--state, --sort and --limit pick and order the rows (e.g. the 10 best: "
            "--state complete --sort val_accuracy --limit 10); --json prints one JSON object per "
            "line instead, for jq, grep or head."
        ),
    )
    _study_args(t)
    t.add_argument(
        "--state", metavar="STATES", help="only these states, comma-separated: complete,pruned,fail,running,waiting"
    )
    t.add_argument("--sort", metavar="KEY", default="number", help=f"order of the rows (default number): {sorts}")
    t.add_argument("--limit", metavar="N", type=int, help="at most N rows, the first N of the order")
    t.add_argument("--json", action="store_true", help="one JSON object per trial, a line each (JSON Lines)")
    t.set_defaults(func=_trials)

    b = sub.add_parser(
        "best",
        help="the best trial, the baseline and the study's counts",
        description=(
            "The study's counts by state, the best trial against the seed baseline, its params, and "
            "the Pareto front of a two-objective study. --json prints it as one JSON object on one line."
        ),
    )
    _study_args(b)
    b.add_argument("--json", action="store_true", help="one JSON object on one line")
    b.set_defaults(func=_best)
