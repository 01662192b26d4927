"""`hpo search`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from hpo.commands.study_file import study_config
from hpo.errors import HpoError

__all__ = ["ENV_HELP", "register"]

#: the --storage help of every command: where the URL comes from when the flag is absent
ENV_HELP = "; default $HPO_STORAGE_URL or $OPTUNA_STORAGE, else [study] storage"


def _plan(args: argparse.Namespace) -> list[Any]:
    """--workers N: one plan per worker process (a GPU each, or a share of the cores); checked
    before any data is prepared. One process with --gpus just sees those GPUs."""
    import os

    from hpo.workers.launcher import detect_gpus, plan_workers

    if args.workers < 1:
        raise HpoError(f"--workers must be at least 1, got {args.workers}")
    if args.workers == 1:
        if args.gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = args.gpus  # before TensorFlow starts
        return []
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else detect_gpus()
    return plan_workers(args.workers, gpus)


def progress_for(args: argparse.Namespace, config: Any) -> Any:
    """The status line of `hpo search` / `hpo worker` (live on a terminal, plain lines elsewhere)."""
    from hpo.study.progress import SearchProgress

    quiet = args.quiet or getattr(args, "no_progress", False)
    return SearchProgress(config.study.n_trials, config.study.timeout, verbose=args.verbose, quiet=quiet)


def _launch(args: argparse.Namespace, config: Any, data_dir: Path, plans: list[Any]) -> int:
    """N worker processes on the study, their lines under one status line polled from the
    study; returns the exit status."""
    import threading

    from hpo.study.study import load_study, open_study
    from hpo.workers.launcher import exit_status, launch, signal_name
    from hpo.workers.storage import storage_location

    started = time.monotonic()
    study = open_study(config)  # create the study and enqueue the baseline once, before the workers race
    progress = progress_for(args, config)
    gpus = [p.gpu for p in plans if p.gpu is not None]
    where = f"GPUs {', '.join(gpus)}" if gpus else f"CPU, {plans[0].threads} thread(s) each"
    print(f"Launching {len(plans)} workers ({where})", flush=True)
    worker_args = [args.study, "--data", str(data_dir)]
    for flag, value in (("--n-trials", args.n_trials), ("--timeout", args.timeout)):
        if value is not None:
            worker_args += [flag, str(value)]
    worker_args += ["-v"] if args.verbose else []
    stop = threading.Event()

    def poll() -> None:
        study = load_study(config)
        while not stop.wait(2.0):
            progress.poll(study, config.training.max_epochs)

    if progress.live:
        threading.Thread(target=poll, daemon=True, name="hpo-poll").start()
    try:
        codes, signum = launch(plans, worker_args, storage_location(study._storage), emit=progress.line)
    finally:
        stop.set()
        progress.close()
    if signum is not None:  # forwarded to the workers, which re-queued their trials and stopped
        print(f"Stopped by {signal.Signals(signum).name}. Run the same command again to resume.", flush=True)
        return 128 + signum
    done = _study_done(config, started)
    code = exit_status(codes, study_done=done)
    for plan, c in zip(plans, codes, strict=True):
        if code == 0 and (killed := signal_name(c)):
            print(f"worker {plan.worker_id} was killed by {killed}; its trial was retried and the study finished")
    bad = [f"{p.worker_id}={128 - c if c < 0 else c}" for p, c in zip(plans, codes, strict=True) if c != 0]
    if code != 0:
        print(f"hpo: error: workers exited with errors: {', '.join(bad)}", file=sys.stderr)
    return code


def _study_done(config: Any, started: float) -> bool:
    """Whether the study reached its cap or its timeout (False if the storage can't say)."""
    from hpo.errors import StorageError
    from hpo.study.study import FINISHED, load_study

    if config.study.timeout is not None and time.monotonic() - started >= config.study.timeout:
        return True
    try:
        finished = load_study(config).get_trials(deepcopy=False, states=FINISHED)
    except StorageError:
        return False
    return len(finished) >= int(config.study.n_trials)


def _search(args: argparse.Namespace) -> int:
    """With --json, everything but the final result goes to stderr; the result, to stdout."""
    if not args.json:
        return _run_search(args, None)
    import contextlib

    result: dict[str, Any] = {}
    with contextlib.redirect_stdout(sys.stderr):
        code = _run_search(args, result)
    print(json.dumps({**result, "exit_status": code}, indent=1, default=str))
    return code


def _run_search(args: argparse.Namespace, result: dict[str, Any] | None) -> int:
    from hpo.api import Study
    from hpo.errors import StorageError
    from hpo.model.builders import study_builder
    from hpo.report.summary import format_summary, study_summary
    from hpo.study.progress import format_duration
    from hpo.study.run import SearchInterrupted
    from hpo.study.study import load_study
    from hpo.workers.process import install_signal_handlers, interrupted_exit_code
    from hpo.workers.url import parse_url

    plans = _plan(args)
    study = Study(study_config(args))
    config = study.config
    study_builder(config)  # a builder that cannot be imported fails before any data is prepared
    started = time.perf_counter()
    data = study.data(args.data, progress=not args.no_progress)
    where = parse_url(config.study.storage)
    print(f"Searching study {config.study.name} ({where}), cap {config.study.n_trials} trials", flush=True)
    code = 0
    if plans:
        code = _launch(args, config, data.path, plans)
    else:
        install_signal_handlers()
        try:
            with progress_for(args, config).shown() as progress:
                study.search(progress=progress)
        except SearchInterrupted as exc:
            print(f"Stopped by signal ({exc}). Run the same command again to resume.")
            code = interrupted_exit_code()
    try:
        summary = study_summary(load_study(config), config)
        print(format_summary(summary))
        if result is not None:
            result.update(summary, wall_s=round(time.perf_counter() - started, 1))
    except StorageError:
        if code == 0:
            raise
        return code  # the workers' status (e.g. 75: the storage is down) says it better
    print(f"Wall time {format_duration(time.perf_counter() - started)}. Next: hpo trials {args.study}")
    return code


def register(sub: Any) -> None:
    s = sub.add_parser(
        "search",
        help="run (or resume) the hyperparameter search of a study file",
        description=(
            "Prepare the study's data (cached), open or create the Optuna study, enqueue the seed "
            "baseline as trial 0, and run trials until the study holds n_trials finished trials. "
            "Re-running resumes; the cap holds across restarts. On a terminal a status line shows "
            "the running trial's epoch, the best so far and the time left; elsewhere one line per "
            "finished trial (and per epoch with -v). Exit status: 0 once the study reached its cap "
            "or timeout, 130 after Ctrl-C and 143 after SIGTERM (the running trial is re-queued "
            "first; run again to resume), 2 for bad input, 74 when a disk (or the database's) is full, 75 when "
            "the storage does not answer."
        ),
    )
    s.add_argument("study", metavar="STUDY.toml", help="study file, e.g. studies/demo.toml")
    s.add_argument("--n-trials", type=int, help="study-wide cap of finished trials (overrides the file)")
    s.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    s.add_argument("--storage", metavar="URL", help=f"sqlite:///FILE or postgresql://… (overrides the file){ENV_HELP}")
    s.add_argument("--data", metavar="DIR", help="prepared folder or class folder, instead of [data] source")
    s.add_argument(
        "--workers", type=int, default=1, help="worker processes here, one per GPU (they share the SQLite file)"
    )
    s.add_argument("--gpus", metavar="IDS", help="GPU ids, one per worker, e.g. 0,1 (default: nvidia-smi's)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.add_argument("--json", action="store_true", help="the final result as JSON on stdout (the rest on stderr)")
    s.set_defaults(func=_search)
