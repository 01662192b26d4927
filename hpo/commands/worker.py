"""`hpo worker` (one process joining a study), `hpo proxy` (the study's storage for many workers)
and `hpo db check`."""

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


def _proxy(args: argparse.Namespace) -> int:
    from hpo.workers.process import install_signal_handlers, interrupted_exit_code
    from hpo.workers.url import parse_url, storage_override

    install_signal_handlers()
    url = storage_override(args.storage)
    if url is None:
        raise HpoError("give --storage URL or set $HPO_STORAGE_URL (the database the proxy serves)")
    location = parse_url(url)
    if location.kind != "postgres" and location.kind != "sqlite":
        raise HpoError(f"hpo proxy serves a database (postgresql://… or sqlite:///FILE), not {location}")
    if not 1 <= args.port <= 65535:
        raise HpoError(f"--port must be 1..65535, got {args.port}")
    from hpo.workers.storage import PROXY_POOL, make_storage, rdb_storage

    try:
        from hpo.workers.proxy_server import make_server
    except ImportError:
        raise HpoError("hpo proxy needs gRPC — pip install 'hpo-keras[grpc]'") from None
    server = None
    try:
        server = make_server(rdb_storage(make_storage(location, pool=PROXY_POOL)), args.host, args.port, args.threads)
        print(f"hpo proxy: {location} served on grpc://{args.host}:{args.port} (workers: --storage grpc://HOST:{args.port})",
              flush=True)  # fmt: skip
        server.wait_for_termination()
    except KeyboardInterrupt as exc:
        print(f"hpo proxy stopped by signal ({exc})", flush=True)
        return interrupted_exit_code()
    finally:
        if server is not None:
            server.stop(grace=2).wait()
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from hpo.workers.storage import NoOptunaTables, make_storage, parse_url, rdb_storage, server_version, study_names
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
    version = "hpo proxy (gRPC)" if location.kind == "grpc" else server_version(rdb_storage(storage))
    print(f"ok: {location} — {version}")
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

    p = sub.add_parser(
        "proxy",
        help="serve a study's database to many workers over gRPC (grpc://HOST:PORT)",
        description=(
            "Run Optuna's gRPC storage proxy over the database of --storage, with hpo's heartbeats, stale-trial "
            "retries and study lock (exact cap). Workers then take --storage grpc://HOST:PORT: one process holds "
            "the database connections (a pool of at most 15) and a cache of finished trials for all of them. "
            "The dashboard, report and export read the database itself. Exit status: 143 after SIGTERM, 130 "
            "after Ctrl-C, 2 for bad input, 75 when the database does not answer at start."
        ),
    )
    p.add_argument(
        "--storage", metavar="URL", help="the database to serve (default $HPO_STORAGE_URL or $OPTUNA_STORAGE)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=13000, help="port (default 13000)")
    p.add_argument("--threads", type=int, default=1024, help="server threads: more than the workers (default 1024)")
    p.set_defaults(func=_proxy)

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
