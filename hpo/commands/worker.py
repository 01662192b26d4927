"""`hpo worker` (one process joining a study) and `hpo db check`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

__all__ = ["STORAGE_ENV", "register"]

#: The launcher hands the storage URL to its workers here, not on the command line (where
#: `ps` would show a password).
STORAGE_ENV = "HPO_STORAGE_URL"


def _worker(args: argparse.Namespace) -> int:
    from hpo.worker import configure_tensorflow, install_signal_handlers, worker_name

    install_signal_handlers()
    configure_tensorflow(args.threads)
    from hpo.config import load_config
    from hpo.search import SearchInterrupted, load_data, run_search

    config = load_config(args.study).with_overrides(
        storage=args.storage or os.environ.get(STORAGE_ENV), n_trials=args.n_trials, timeout=args.timeout
    )
    data = load_data(config, Path(args.data) if args.data else None, progress=False)
    name = worker_name(args.id or os.environ.get("HPO_WORKER_ID"))
    print(f"worker {name} joined study {config.study.name}", flush=True)
    try:
        run_search(config, data, worker=name)
    except SearchInterrupted as exc:
        print(f"worker {name} stopped by signal ({exc}); exiting cleanly", flush=True)
        return 0
    print(f"worker {name} done: the study reached its cap or timeout", flush=True)
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from hpo.storage import make_storage, mask_url, server_version, study_names

    storage = make_storage(args.url)
    names = study_names(storage)
    print(f"ok: {mask_url(args.url)} — {server_version(storage)}")
    print(f"studies ({len(names)}): {', '.join(names) if names else 'none'}")
    return 0


def register(sub: Any) -> None:
    w = sub.add_parser(
        "worker",
        help="join a study and run trials until its cap (one per GPU; many hosts on one Postgres)",
        description=(
            "Join the study of STUDY.toml and run trials until the study holds n_trials finished "
            "trials or the timeout passes. Start one per GPU (CUDA_VISIBLE_DEVICES=k hpo worker ...) "
            "on any number of hosts pointing at one postgresql:// storage. SIGTERM/SIGINT: the "
            "running trial is marked FAIL, its params re-queued, and the worker exits 0."
        ),
    )
    w.add_argument("study", metavar="STUDY.toml", help="study file")
    w.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file; also ${STORAGE_ENV})")
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
        description="Connect (creating Optuna's tables if needed), print the server version and the studies.",
    )
    c.add_argument("url", metavar="URL", help="sqlite:///FILE or postgresql://user:pass@host:5432/db")
    c.set_defaults(func=_db_check)
