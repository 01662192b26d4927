"""`hpo dashboard | report`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hpo.commands.search import ENV_HELP
from hpo.commands.study_file import study_config
from hpo.errors import HpoError

__all__ = ["register"]


def _dashboard(args: argparse.Namespace) -> int:
    from hpo.report.dashboard import serve
    from hpo.workers.url import parse_url, storage_override

    override = storage_override(args.storage)
    if args.study is not None:
        config = study_config(args)
        serve(parse_url(config.study.storage), config.study.name, args.host, args.port, config.artifacts.store)
    elif override is not None:
        serve(parse_url(override), None, args.host, args.port)
    else:
        raise HpoError("give a STUDY.toml or --storage URL (or set $HPO_STORAGE_URL)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hpo.report.html import build_report, check_report_out, default_report_path
    from hpo.study.study import load_study

    config = study_config(args)
    out = Path(args.out) if args.out else default_report_path(config)
    check_report_out(out)  # before the study is read
    path = build_report(load_study(config), config, out)
    print(f"Report: {path}  ({path.stat().st_size / 1e6:.1f} MB, self-contained, works offline)")
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser(
        "dashboard",
        help="serve optuna-dashboard on a study (http://127.0.0.1:8080)",
        description=(
            "Start optuna-dashboard on the study's storage. Binds to 127.0.0.1 unless --host is given "
            "(the dashboard has no authentication). Ctrl-C stops it."
        ),
    )
    d.add_argument("study", metavar="STUDY.toml", nargs="?", help="study file (or use --storage alone)")
    d.add_argument(
        "--storage",
        metavar="URL",
        help="storage URL (overrides the file; alone: all its studies; default $HPO_STORAGE_URL)",
    )
    d.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    d.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    d.set_defaults(func=_dashboard)

    r = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a study (plots work offline)",
        description=(
            "One HTML file with plotly.js inlined: optimization history with the baseline, learning "
            "curves with pruned trials marked, trial states and epochs saved by pruning, importances, "
            "a contour of the two most important parameters, a rank plot, parallel coordinates, slices, "
            "the EDF of val accuracy, and the exported model's confusion matrix when there is one. A "
            "plot that cannot be drawn says why; so does a parameter a plot leaves out."
        ),
    )
    r.add_argument("study", metavar="STUDY.toml", help="study file")
    r.add_argument(
        "--out", metavar="FILE", help="output file, new or a report hpo wrote (default studies/<name>/report.html)"
    )
    r.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
    r.set_defaults(func=_report)
