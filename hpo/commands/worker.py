"""`hpo worker` (one process joining a study) and `hpo db check`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from hpo.commands.search import ENV_HELP, progress_for
from hpo.commands.study_file import study_config
from hpo.errors import HpoError

__all__ = ["register"]


def _worker(args: argparse.Namespace) -> int:
    from hpo.model.builders import study_builder
    from hpo.workers.process import configure_tensorflow, install_signal_handlers, interrupted_exit_code, worker_name

    install_signal_handlers()
    try:
        config = study_config(args)
        study_builder(config)  # a builder that cannot be imported fails before any data is prepared
        configure_tensorflow(args.threads, mixed_precision=config.training.mixed_precision)
        from hpo.study.run import SearchInterrupted, load_data, run_search

        data = load_data(config, Path(args.data) if args.data else None, progress=False)
    except KeyboardInterrupt as exc:  # a signal while starting: no trial ran, nothing to re-queue
        print(f"worker stopped by signal ({exc}) while starting; exiting cleanly", flush=True)
        return interrupted_exit_code()
    name = worker_name(args.id or os.environ.get("HPO_WORKER_ID"))
    print(f"worker {name} joined study {config.study.name}", flush=True)
    try:
        with progress_for(args, config).shown() as progress:
            run_search(config, data, worker=name, progress=progress)
    except SearchInterrupted as exc:
        print(f"worker {name} stopped by signal ({exc}); exiting cleanly", flush=True)
        return interrupted_exit_code()
    print(f"worker {name} done: the study reached its cap or timeout", flush=True)
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from hpo.workers.storage import NoOptunaTables, make_storage, parse_url, server_version, study_names
    from hpo.workers.url import storage_override

    url = storage_override(args.url, flag="URL")
    if url is None:
        raise HpoError("give a storage URL or set $HPO_STORAGE_URL (better: no password on the command line)")
    location = parse_url(url)
    try:
        storage = make_storage(location, create=False)
    except NoOptunaTables:
        print(f"ok: {location} is reachable; no Optuna tables yet (the first `hpo search` creates them)")
        return 0
    names = study_names(storage)
    print(f"ok: {location} — {server_version(storage)}")
    print(f"studies ({len(names)}): {', '.join(names) if names else 'none'}")
    return 0


def register(sub: Any) -> None:
    w = sub.add_parser(
        "worker",
        help="join a study and run trials until its cap (one per GPU; many hosts on one Postgres)",
        description=(
            "Join the study of STUDY.toml and run trials until the study holds n_trials finished "
            "trials or the timeout passes. Start one per GPU (CUDA_VISIBLE_DEVICES=k hpo worker ...): "
            "workers on one machine share the study's SQLite file; workers on many hosts point at one "
            "postgresql:// storage. Exit status: 0 once the study reached its cap or timeout; after "
            "SIGTERM (143) or Ctrl-C (130) the running trial is first marked FAIL and its params "
            "re-queued; 2 for bad input; 74 when a disk (or the database's) is full; 75 when the "
            "storage does not answer (worth retrying)."
        ),
    )
    w.add_argument("study", metavar="STUDY.toml", help="study file")
    w.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
    w.add_argument("--data", metavar="DIR", help="prepared folder (default: prepare [data] source here)")
    w.add_argument("--n-trials", type=int, help="study-wide cap (overrides the file)")
    w.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    w.add_argument("--id", help="worker name shown in logs and trial attrs")
    w.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    w.set_defaults(func=_worker)

    db = sub.add_parser("db", help="storage utilities", description="Storage utilities.")
    dsub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    c = dsub.add_parser(
        "check",
        help="connect to a storage URL and print the server version",
        description=(
            "Connect, print the server version and the studies. Creates nothing: a missing SQLite file "
            "is an error, a database without Optuna's tables is reported as such."
        ),
    )
    c.add_argument(
        "url",
        metavar="URL",
        nargs="?",
        help="sqlite:///FILE or postgresql://user:pass@host:5432/db (default: $HPO_STORAGE_URL, keeping "
        "the password out of `ps`)",
    )
    c.set_defaults(func=_db_check)
