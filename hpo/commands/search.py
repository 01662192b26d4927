"""`hpo search | trials | best`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _config(args: argparse.Namespace) -> Any:
    from hpo.config import load_config

    overrides = {
        "n_trials": getattr(args, "n_trials", None),
        "timeout": getattr(args, "timeout", None),
        "storage": getattr(args, "storage", None),
    }
    return load_config(args.study).with_overrides(**overrides)


def _search(args: argparse.Namespace) -> int:
    from hpo.search import elapsed, load_data, run_search
    from hpo.storage import mask_url
    from hpo.summary import format_summary, study_summary

    config = _config(args)
    started = time.perf_counter()
    data = load_data(config, Path(args.data) if args.data else None, progress=not args.no_progress)
    where = mask_url(config.study.storage)
    print(f"Searching study {config.study.name} ({where}), cap {config.study.n_trials} trials")
    study = run_search(config, data)
    print(format_summary(study_summary(study, config)))
    print(f"Wall time {elapsed(started)}. Next: hpo trials {args.study}")
    return 0


def _trials(args: argparse.Namespace) -> int:
    from hpo.study import load_study
    from hpo.summary import format_trials, trial_record

    study = load_study(_config(args))
    if args.json:
        print(json.dumps([trial_record(t) for t in study.get_trials(deepcopy=False)], indent=1, default=str))
    else:
        print(format_trials(study))
    return 0


def _best(args: argparse.Namespace) -> int:
    from hpo.study import load_study
    from hpo.summary import format_summary, study_summary

    config = _config(args)
    summary = study_summary(load_study(config), config)
    print(json.dumps(summary, indent=1, default=str) if args.json else format_summary(summary))
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "search",
        help="run (or resume) the hyperparameter search of a study file",
        description=(
            "Prepare the study's data (cached), open or create the Optuna study, enqueue the seed "
            "baseline as trial 0, and run trials until the study holds n_trials finished trials. "
            "Re-running resumes; the cap holds across restarts. One line per finished trial."
        ),
    )
    s.add_argument("study", metavar="STUDY.toml", help="study file, e.g. studies/demo.toml")
    s.add_argument("--n-trials", type=int, help="study-wide cap of finished trials (overrides the file)")
    s.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    s.add_argument("--storage", metavar="URL", help="sqlite:///FILE or postgresql://… (overrides the file)")
    s.add_argument("--data", metavar="DIR", help="use this prepared folder instead of preparing [data] source")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=_search)

    for name, func, text in (
        ("trials", _trials, "table of every trial: state, val accuracy, epochs, seconds, params"),
        ("best", _best, "the best trial, the baseline and the study's counts"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("study", metavar="STUDY.toml", help="study file")
        p.add_argument("--storage", metavar="URL", help="storage URL (overrides the file)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)
