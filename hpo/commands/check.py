"""`hpo check STUDY.toml`: what `hpo search` would trip over, found in seconds, before hours are
spent: the study file, the data, the storage, TensorFlow and the GPUs. One line per problem.

Nothing is imported that a search needs later (no TensorFlow: its import alone takes seconds),
nothing is written, and no data is decoded: the class folders are listed, a prepared cache's
manifest is read."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.errors import HpoError

if TYPE_CHECKING:
    from hpo.config import StudyConfig

__all__ = ["check_study", "register"]

#: a storage that does not answer within this many seconds is a problem (TCP's own timeout is minutes)
STORAGE_TIMEOUT_S = 10.0


def _data(config: StudyConfig, data: str | None) -> str:
    """The data the search would read: a prepared cache (manifest), or a class-folder dataset."""
    from hpo.data.cache import MANIFEST_FILE
    from hpo.data.scan import scan_dataset

    source = Path(data) if data else config.data.source
    prepared = source if source is not None and (source / MANIFEST_FILE).is_file() else config.data.prepared
    if (prepared / MANIFEST_FILE).is_file():
        manifest = json.loads((prepared / MANIFEST_FILE).read_text())
        size = manifest.get("image_size")
        if data is None and size != config.data.image_size:
            raise HpoError(
                f"{prepared}: prepared at {size} px, the study's [data] image_size is {config.data.image_size}"
                " — run `hpo data prepare` again or fix image_size"
            )
        return f"prepared data {prepared}: {len(manifest.get('items', []))} images, {size} px"
    if source is None:
        raise HpoError(f"{config.path}: [data] source is not set and {prepared} is not prepared — set source or --data")
    scan = scan_dataset(source)
    counts = {name: 0 for name in scan.classes}
    for file in scan.files:
        counts[file.class_name] += 1
    empty = [name for name, n in counts.items() if n == 0]
    if len(counts) < 2:
        raise HpoError(f"{scan.root}: {len(counts)} class folder — a classifier needs at least 2")
    if empty:
        raise HpoError(f"{scan.root}: no images in class folder(s) {', '.join(empty)}")
    return f"dataset {scan.root}: {len(counts)} classes, {len(scan.files)} images (prepared on first search)"


def _storage(config: StudyConfig) -> str:
    from hpo.workers.storage import NoOptunaTables, make_storage
    from hpo.workers.url import parse_url

    location = parse_url(config.study.storage)
    if location.kind == "sqlite":
        path = Path(location.url.removeprefix("sqlite:///"))
        if not path.exists():
            folder = path.parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise HpoError(f"storage {location}: {folder} is not a writable folder — create it or fix storage")
            return f"storage {location}: created by the first search"
    try:
        make_storage(location, create=False)
    except NoOptunaTables:
        return f"storage {location}: reachable, no Optuna tables yet (the first search creates them)"
    return f"storage {location}: reachable"


def _within(seconds: float, what: str, func: Callable[[], str]) -> str:
    """``func()``, or a problem when it has not answered after ``seconds`` (it goes on, unwaited)."""
    result: list[str] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(func())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if error:
        raise error[0]
    if not result:
        raise HpoError(f"{what}: no answer within {seconds:.0f} s — is the server up and reachable from here?")
    return result[0]


def _tensorflow() -> str:
    from hpo.cli import PICK_TF, tensorflow_builds
    from hpo.versions import gpus

    builds = tensorflow_builds()
    if not builds or importlib.util.find_spec("tensorflow") is None:
        raise HpoError(f"TensorFlow is not installed (hpo-keras brings none itself) — {PICK_TF}")
    found = gpus()
    if not found[0].startswith("GPU "):
        return f"TensorFlow ({builds[0]}); GPUs: {found[0]}: trials run on the CPU"
    cpu_only = builds[0] == "tensorflow-cpu"
    note = " — the CPU-only build: pip install 'hpo-keras[gpu]' to use them" if cpu_only else ""
    return f"TensorFlow ({builds[0]}); {len(found)} GPU(s): {found[0].split(': ', 1)[1]}{note}"


def _builder(config: StudyConfig) -> str:
    builder = config.model.builder
    if builder is None:
        return f"model: {config.model.name}"
    module = builder.split(":", 1)[0]
    folders = [str(config.path.resolve().parent), str(Path.cwd())]
    sys.path[:0] = folders
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    finally:
        del sys.path[: len(folders)]
    if spec is None:
        raise HpoError(f"{config.path}: [model] builder {builder!r}: no module {module!r} beside the study or here")
    return f"model: builder {builder} (module found; imported when the search starts)"


def check_study(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(what is fine, the problems): one line each."""
    from hpo.commands.study_file import study_config

    try:
        config = study_config(args)
    except HpoError as exc:
        return [], [str(exc)]  # nothing else can be checked without the file
    n = config.study.n_trials
    good = [f"study file {args.study}: study {config.study.name!r}, {n} trials"]
    problems = []
    checks: list[Callable[[], str]] = [
        lambda: _data(config, args.data),
        lambda: _within(STORAGE_TIMEOUT_S, f"storage {config.study.storage}", lambda: _storage(config)),
        _tensorflow,
        lambda: _builder(config),
    ]
    for check in checks:
        try:
            good.append(check())
        except HpoError as exc:
            problems.append(str(exc))
    return good, problems


def _check(args: argparse.Namespace) -> int:
    from hpo.fsutil import one_line
    from hpo.workers.secrets import mask

    good, problems = check_study(args)
    for line in good:
        print(f"ok: {mask(line)}")
    for line in problems:
        print(f"hpo: error: {one_line(mask(line))}", file=sys.stderr)
    if problems:
        return 2
    print(f"{args.study} is ready: hpo search {args.study}")
    return 0


def register(sub: Any) -> None:
    from hpo.commands.search import ENV_HELP

    c = sub.add_parser(
        "check",
        help="validate a study before searching: the file, the data, the storage, TensorFlow and the GPUs",
        description=(
            "Check what `hpo search` needs, in seconds and without training or writing anything: the "
            "study file (unknown keys, bad values), the data (a prepared folder's manifest, or the class "
            "folders of the source), the storage (reachable, with a 10 s limit), TensorFlow (installed, "
            "one build) and the GPUs (nvidia-smi), and a [model] builder's module. One line per problem "
            "on stderr; exit status 0 when there is none, 2 otherwise."
        ),
    )
    c.add_argument("study", metavar="STUDY.toml", help="study file")
    c.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
    c.add_argument("--data", metavar="DIR", help="prepared folder or class folder, instead of [data] source")
    c.set_defaults(func=_check)
