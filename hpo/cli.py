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
from hpo.commands import ablate as ablate_cmd
from hpo.commands import artifacts as artifacts_cmd
from hpo.commands import check as check_cmd
from hpo.commands import completion as completion_cmd
from hpo.commands import data as data_cmd
from hpo.commands import init as init_cmd
from hpo.commands import model as model_cmd
from hpo.commands import search as search_cmd
from hpo.commands import trials as trials_cmd
from hpo.commands import watch as watch_cmd
from hpo.commands import worker as worker_cmd
from hpo.errors import DiskFull, HpoError
from hpo.fsutil import disk_full, is_disk_full, one_line
from hpo.versions import TF_BUILDS, VersionAction
from hpo.workers.secrets import mask, mask_output

__all__ = ["build_parser", "main"]

PICK_TF = "pip install 'hpo-keras[cpu]' (or 'hpo-keras[gpu]' with an NVIDIA GPU)"

DESCRIPTION = """\
Hyperparameter optimization for image classifiers (Optuna + Keras).

Typical flow:
  hpo init data/mydata                                      inspect a dataset, write studies/mydata.toml
  hpo check studies/mydata.toml                             file, data, storage, TensorFlow, GPUs: in seconds
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
  hpo completion bash                                       shell completion (eval "$(hpo completion bash)")

Logs: -v / -q, or HPO_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR; --log-file FILE keeps them in a file too.
Run `hpo COMMAND --help` for the options of each command."""

#: the levels HPO_LOG_LEVEL may name
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
    trials_cmd.register(sub)
    worker_cmd.register(sub)
    model_cmd.register(sub)
    artifacts_cmd.register(sub)
    watch_cmd.register(sub)
    ablate_cmd.register(sub)
    check_cmd.register(sub)
    completion_cmd.register(sub)
    for command in _subcommands(parser):
        _global_flags(command, default=argparse.SUPPRESS)  # `hpo trials X -v` == `hpo -v trials X`
    return parser


def _global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logs, one line per epoch")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="warnings and results only")
    parser.add_argument(
        "--log-file", metavar="FILE", default=None if default is False else default, help="also append the logs to FILE"
    )


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
    try:
        _logging(args)
    except HpoError as exc:
        print(f"hpo: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
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


class _MaskedFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def _logging(args: argparse.Namespace) -> None:
    """Log lines on stderr (and in --log-file): -v / -q, else $HPO_LOG_LEVEL, else INFO."""
    named = os.environ.get("HPO_LOG_LEVEL", "").strip().upper()
    if named and named not in LOG_LEVELS:
        raise HpoError(f"HPO_LOG_LEVEL={named!r}: use one of {', '.join(LOG_LEVELS)}")
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else getattr(logging, named or "INFO")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.log_file:
        try:
            handlers.append(logging.FileHandler(args.log_file, encoding="utf-8"))
        except OSError as exc:
            raise HpoError(f"--log-file {args.log_file}: cannot write it ({exc.strerror or exc})") from None
    for handler in handlers:  # no password in a log line, on the terminal or in the file
        handler.setFormatter(_MaskedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=max(level, logging.INFO), handlers=handlers, force=True)  # others' debug: out
    logging.getLogger("hpo").setLevel(level)  # hpo's own debug lines with -v / DEBUG
    logging.getLogger("tensorflow").setLevel(logging.WARNING)


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
