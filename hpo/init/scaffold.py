"""`hpo init`: choose a study's defaults from a dataset `Survey`, each with its reason, and write
them into a study `Template` (the reasons become comments above the values)."""

from __future__ import annotations

import json
import math
import os
import re
import string
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Generic, TypeVar

from hpo.data.split import split_counts
from hpo.errors import DataError, OutputError
from hpo.fsutil import write_text
from hpo.init.survey import Survey
from hpo.init.templates import Template
from hpo.model.space import BASELINE

__all__ = [
    "Defaults",
    "Pick",
    "check_out",
    "choose_defaults",
    "dataset_name",
    "format_defaults",
    "render",
    "source_text",
    "study_name",
    "write_study",
]

FRACTION = 0.15  # val and test share of each class
GRID, MIN_SIZE = 8, 16  # image sides: a multiple of 8, at least 16 px
MIN_STEPS = 20  # a batch size must leave this many steps per epoch
REDUCTION_FACTOR = 3


T = TypeVar("T", int, float, str, tuple[int, ...])


@dataclass(frozen=True)
class Pick(Generic[T]):
    value: T
    reason: str


@dataclass(frozen=True)
class Defaults:
    """The data-dependent values of a study file (field names = the template's placeholders)."""

    image_size: Pick[int]
    val: Pick[float]
    test: Pick[float]
    batch_size: Pick[tuple[int, ...]]
    max_epochs: Pick[int]
    early_stopping_patience: Pick[int]
    n_trials: Pick[int]
    n_startup_trials: Pick[int]
    pruner: Pick[str]
    min_resource: Pick[int]
    reduction_factor: Pick[int]


def _image_size(s: Survey, t: Template, override: int | None) -> Pick[int]:
    if override is not None:
        return Pick(override, "set by --image-size")
    m = s.median_short_side
    side = max(MIN_SIZE, GRID * round(m / GRID))
    if side <= t.max_image_size:
        rounded = "" if side == m else f", rounded to a multiple of {GRID}"
        return Pick(side, f"the median image's short side ({m} px){rounded}")
    cost = (t.max_image_size / 32) ** 2
    return Pick(
        t.max_image_size,
        f"median short side {m} px, capped at {t.max_image_size} for time (a {t.max_image_size} px trial "
        f"costs {cost:g}x a 32 px one); {t.image_size_note}",
    )


def _splits(s: Survey) -> tuple[Pick[float], Pick[float], int]:
    """val and test fractions, and the number of training images they leave."""
    if len(s.counts) < 2:
        raise DataError(f"only one class folder in {s.root} — a classifier needs at least two; add one per class")
    cls, n = s.smallest
    if n < 2:
        raise DataError(
            f"class '{cls}' has {n} image — a search needs at least 2 per class (train and val); "
            f"add images to {s.root / cls} or remove it"
        )
    test = FRACTION if split_counts(n, FRACTION, FRACTION)[0] >= 1 else 0.0
    per_class = [split_counts(c, FRACTION, test) for _, c in s.counts]
    n_train, n_val, n_test = (sum(x[i] for x in per_class) for i in range(3))
    noise = f"; with so few, each image moves val accuracy by {100 / n_val:.1f} points" if n_val < 200 else ""
    val = Pick(FRACTION, f"{FRACTION:.0%} of each class (at least 1): {n_val:,} validation images{noise}")
    if test:
        why = f"{FRACTION:.0%} of each class: {n_test:,} images held out for the export's test accuracy"
    else:
        why = f"none: the smallest class ('{cls}', {n} images) has room only for train and val"
    return val, Pick(test, why), n_train


def _batch_sizes(t: Template, n_train: int) -> Pick[tuple[int, ...]]:
    base = BASELINE.batch_size
    small = n_train // base < MIN_STEPS
    keep = [b for b in t.batch_sizes if b == base or (b > base and n_train // b >= MIN_STEPS) or (b < base and small)]
    why = f"those leaving >= {MIN_STEPS} steps per epoch on {n_train:,} training images, and the baseline's {base}"
    if small:
        why += f" (which leaves only {n_train // base}; smaller ones added)"
    return Pick(tuple(keep), why)


def _epochs(t: Template, n_train: int, size: int, override: int | None) -> Pick[int]:
    if override is not None:
        return Pick(override, "set by --max-epochs")
    scale = (size / 32) ** 2
    raw = t.passes_per_trial / (n_train * scale)
    lo, hi = t.epochs
    epochs = min(hi, max(lo, round(raw)))
    per_image = f" x {scale:g} for {size} px" if scale != 1 else ""
    clamp = f", clamped to {lo}..{hi}" if epochs != round(raw) else ""
    return Pick(
        epochs,
        f"~{t.passes_per_trial:,} image passes per trial / ({n_train:,} training images{per_image}) = {raw:.1f}{clamp}",
    )


def _pruner(n_trials: int, max_epochs: int) -> tuple[Pick[str], Pick[int]]:
    rf = REDUCTION_FACTOR
    first = max(1, max_epochs // 20)
    brackets = math.floor(math.log(max_epochs / first, rf) + 1e-9) + 1
    rungs = ", ".join(str(first * rf**k) for k in range(brackets) if first * rf**k < max_epochs) or "none"
    need = brackets * rf**2
    if brackets > 1 and n_trials >= need:
        kind = "hyperband"
        why = (
            f"{n_trials} trials fill its {brackets} brackets (>= {rf**2} each): a hedge on how early epochs rank trials"
        )
    else:
        kind = "successive_halving"
        few = f"{n_trials} trials are too few for Hyperband's {brackets} brackets (needs {need})"
        why = f"one bracket: {few if brackets > 1 else f'max_epochs {max_epochs} leaves room for one'}"
    where = "its most aggressive bracket cuts" if kind == "hyperband" else "cuts"
    return Pick(kind, why), Pick(first, f"first cut after ~max_epochs / 20; {where} at epochs {rungs}, keeping 1/{rf}")


def choose_defaults(
    s: Survey, t: Template, *, image_size: int | None = None, max_epochs: int | None = None, n_trials: int | None = None
) -> Defaults:
    """Each data-dependent value of the study file with its reason (a flag's value wins)."""
    size = _image_size(s, t, image_size)
    val, test, n_train = _splits(s)
    epochs = _epochs(t, n_train, size.value, max_epochs)
    e = epochs.value
    trials = Pick(n_trials, "set by --n-trials") if n_trials else Pick(t.n_trials, f"the '{t.name}' template's budget")
    nt = trials.value
    patience = max(3, round(e / 5))
    pruner, min_resource = _pruner(nt, e)
    return Defaults(
        image_size=size,
        val=val,
        test=test,
        batch_size=_batch_sizes(t, n_train),
        max_epochs=epochs,
        early_stopping_patience=Pick(patience, f"stop a trial {patience} epochs (~max_epochs / 5) after its best one"),
        n_trials=trials,
        n_startup_trials=Pick(max(3, min(15, nt // 5)), "random trials before TPE models the results (~1/5)"),
        pruner=pruner,
        min_resource=min_resource,
        reduction_factor=Pick(REDUCTION_FACTOR, "Optuna's default: keep the best third at each rung"),
    )


def format_defaults(d: Defaults) -> str:
    """What `hpo init` prints: each value and its reason."""
    lines = []
    for f in fields(d):
        pick = getattr(d, f.name)
        lines.append(textwrap.fill(f"{f.name} = {_toml(pick.value)}: {pick.reason}", 100, subsequent_indent=" " * 6))
    return "\n".join("  " + line for line in lines)


def _toml(value: int | float | str | tuple[int, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    return repr(value)


def study_name(text: str) -> str:
    """``text`` as a study name (``[A-Za-z0-9][A-Za-z0-9_.-]*``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("_.-") or "study"


def dataset_name(src: Path) -> str:
    """A study name for a dataset folder (its parent's for Kaggle's ``raw-img``)."""
    folder = Path(os.path.abspath(src))
    return study_name(folder.parent.name if folder.name == "raw-img" else folder.name)


def source_text(src: Path, study_dir: Path) -> str:
    """``src`` relative to the study file's folder when they share more than the filesystem root."""
    a, b = os.path.abspath(src), os.path.abspath(study_dir)
    try:
        common = Path(os.path.commonpath([a, b]))
    except ValueError:  # different drives
        return a
    return a if common.parent == common else Path(os.path.relpath(a, b)).as_posix()


def render(t: Template, d: Defaults, s: Survey, name: str, out: Path) -> str:
    """The study file's text."""
    w, h = s.median_size
    values = {
        "name": name,
        "template": t.name,
        "description": t.description,
        "source": _toml(source_text(s.src, out.parent)),
        "source_shown": str(s.src),
        "study_file": str(out),
        "dataset": f"{len(s.counts)} classes, {s.total:,} images, median {w}x{h} px",
    }
    for f in fields(d):
        pick = getattr(d, f.name)
        values[f.name], values[f"{f.name}_why"] = _toml(pick.value), "\n# ".join(textwrap.wrap(pick.reason, 96))
    return string.Template(t.text).substitute(values)


def check_out(out: Path, *, force: bool = False) -> None:
    """Refuse to replace a folder, or a file unless ``force`` (one-line errors)."""
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder — name the study file to write, e.g. {out / 'study.toml'}")
    if out.exists() and not force:
        raise OutputError(f"{out} exists — pass --force to replace it, or choose another --out")


def write_study(text: str, out: Path, *, force: bool = False) -> None:
    check_out(out, force=force)
    try:
        write_text(out, text)
    except OSError as exc:
        raise OutputError(f"cannot write {out} ({exc.strerror or exc}) — choose another --out") from None
