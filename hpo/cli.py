"""`hpo` command line. Subcommands live in `hpo.commands`; each imports heavy modules lazily,
so `hpo --help` and argument errors are instant and never import TensorFlow."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from hpo import __version__
from hpo.commands import artifacts as artifacts_cmd
from hpo.commands import data as data_cmd
from hpo.commands import init as init_cmd
from hpo.commands import model as model_cmd
from hpo.commands import search as search_cmd
from hpo.commands import watch as watch_cmd
from hpo.commands import worker as worker_cmd
from hpo.errors import DiskFull, HpoError
from hpo.fsutil import disk_full, is_disk_full, one_line
from hpo.versions import VersionAction
from hpo.workers.secrets import mask, mask_output

__all__ = ["build_parser", "main"]

#: distributions that each install the `tensorflow` package: two of them overwrite each other's files
TF_BUILDS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos")
PICK_TF = "pip install 'hpo-keras[cpu]' (or 'hpo-keras[gpu]' with an NVIDIA GPU)"

DESCRIPTION = """\
Hyperparameter optimization for image classifiers (Optuna + Keras).

Typical flow:
  hpo init data/mydata                                      inspect a dataset, write studies/mydata.toml
  hpo data prepare data/animals10 --out data/animals10-64   decode, validate, split, cache
  hpo data synth data/synth                                 generate a small demo dataset
  hpo data fetch animals10                                  download Animals-10 (Kaggle)
  hpo search studies/demo.toml                              run or resume a search
  hpo trials studies/demo.toml                              table of trials
  hpo best studies/demo.toml [--json]                       best trial vs. the baseline
  hpo search studies/x.toml --workers 4 --storage postgresql://…   parallel workers
  hpo worker studies/x.toml                                 join a study (one per GPU/host)
  hpo db check postgresql://user:pass@host/db               check a storage
  hpo export studies/demo.toml [--tflite]                   retrain best -> models/demo/saved_model
  hpo export studies/demo.toml --from-trial                 the best trial's own weights, no retraining
  hpo artifacts prune studies/demo.toml --keep-best 5       free the disk of other trials' weights
  hpo evaluate models/demo data/demo/images                 metrics of an export on a dataset
  hpo predict models/demo photo.jpg folder/                 classify files
  hpo compare models/searched models/baseline               exports side by side
  hpo dashboard studies/demo.toml                           optuna-dashboard on http://127.0.0.1:8080
  hpo report studies/demo.toml                              self-contained HTML report

Run `hpo COMMAND --help` for the options of each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpo", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version",
        action=VersionAction,
        version=__version__,
        help="versions of hpo, Python, TensorFlow, Keras, Optuna, optuna-dashboard and the GPUs (for a bug report)",
    )
    _global_flags(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    init_cmd.register(sub)
    data_cmd.register(sub)
    search_cmd.register(sub)
    worker_cmd.register(sub)
    model_cmd.register(sub)
    artifacts_cmd.register(sub)
    watch_cmd.register(sub)
    for command in _subcommands(parser):
        _global_flags(command, default=argparse.SUPPRESS)  # `hpo trials X -v` == `hpo -v trials X`
    return parser


def _global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logs, one line per epoch")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="warnings and results only")


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every (nested) subcommand parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += [child, *_subcommands(child)]
    return found


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def tensorflow_builds() -> list[str]:
    """The TensorFlow distributions installed here (the `cpu` and `gpu` extras each bring one)."""
    return [name for name in TF_BUILDS if _installed(name)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hpo` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose and args.quiet:
        print("hpo: error: -v and -q contradict each other — give one", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.verbose:  # hpo's own debug lines; other libraries' stay at INFO
        logging.getLogger("hpo").setLevel(logging.DEBUG)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    mask_output()  # no password in a log line or a traceback, whatever printed it
    builds = tensorflow_builds()
    if len(builds) > 1:  # pip cannot refuse `[cpu,gpu]`, so hpo does, before anything runs
        print(
            f"hpo: error: two TensorFlow builds are installed ({', '.join(builds)}) and overwrite each other's "
            f"files — pip uninstall --yes {' '.join(builds)}, then {PICK_TF}",
            file=sys.stderr,
        )
        return 2
    try:
        return _run(args)
    except ModuleNotFoundError as exc:
        if exc.name != "tensorflow":
            raise
        print(f"hpo: error: TensorFlow is not installed (hpo-keras brings none itself) — {PICK_TF}", file=sys.stderr)
        return 2
    except HpoError as exc:
        print(f"hpo: error: {one_line(mask(str(exc)))}", file=sys.stderr)  # no secret, no forged line or escape
        return exc.exit_code
    except KeyboardInterrupt:
        print("hpo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hpo best X | head -2`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush must not raise again
        return 128 + 13  # as a process killed by SIGPIPE


def _run(args: argparse.Namespace) -> int:
    """The subcommand; an ENOSPC that no writer turned into a `DiskFull` (exit 74) becomes one here."""
    try:
        return int(args.func(args) or 0)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        if exc.filename is None:
            raise DiskFull(f"disk full ({exc}) — free some space and run it again") from None
        raise disk_full(Path(os.fsdecode(exc.filename)), what=exc.strerror or "") from None


if __name__ == "__main__":
    sys.exit(main())
