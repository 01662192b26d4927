"""`hpo init`: write the values `hpo.init.defaults.choose_defaults` picked into a study `Template`
(the reasons become comments above the values), and the names and paths around it."""

from __future__ import annotations

import json
import os
import re
import string
import textwrap
from pathlib import Path
from typing import Any

from hpo.errors import OutputError
from hpo.fsutil import write_text
from hpo.init.defaults import Defaults
from hpo.init.headstart import NOTES, Preset
from hpo.init.survey import Survey
from hpo.init.templates import Template

__all__ = [
    "check_out",
    "dataset_name",
    "format_defaults",
    "render",
    "source_text",
    "study_name",
    "write_study",
]

#: written above the preset in the study file
PRESET_HEADER = """\
# The head start: the recipe measured on cifar10-mini (studies/cifar10-mini.toml; BENCHMARKS.md's
# ablation: two convs per block +11 test points, pad-and-crop +6, AdamW + cosine + label smoothing
# +2.4, flips +1.5, a global-average-pooling head), scaled to this data. Trial 0 is the seed
# baseline, trial 1 this preset; then the sampler searches around it. Each value lies inside
# [search]; a key removed here is sampled."""


def _fill(text: str, width: int = 100, indent: str = "") -> str:
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "    ")


def format_defaults(d: Defaults) -> str:
    """What `hpo init` prints: each value and its reason, then the preset."""
    lines = [_fill(f"{name} = {_toml(pick.value)}: {pick.reason}", indent="  ") for name, pick in d.picks()]
    values = ", ".join(f"{k} {_toml(v)}" for k, v in d.preset.values().items())
    lines.append(_fill(f"preset (trial 1, after the baseline): {values}", indent="  "))
    for key, why in d.preset.reasons.items():
        lines.append(_fill(f"{key}: {why}", indent="    "))
    return "\n".join(lines)


def _toml(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    return repr(value)


def _comment(text: str) -> str:
    return "\n".join("# " + line for line in textwrap.wrap(text, 96))


def preset_text(p: Preset) -> str:
    """The ``[[study.enqueue]]`` table, each scaled value under its reason."""
    lines = [PRESET_HEADER, "[[study.enqueue]]"]
    for key, value in p.values().items():
        if key in p.reasons:
            lines.append(_comment(p.reasons[key]))
        lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines)


def search_text(search: dict[str, Any]) -> str:
    """The ``[search]`` keys, each with its note."""
    lines = []
    for key, value in search.items():
        line = f"{key} = {_toml(value)}"
        lines.append(f"{line:<30} # {NOTES[key]}" if key in NOTES else line)
    return "\n".join(lines)


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
        "preset": preset_text(d.preset),
        "search": search_text(d.search),
    }
    for key, pick in d.picks():
        values[key], values[f"{key}_why"] = _toml(pick.value), "\n# ".join(textwrap.wrap(pick.reason, 96))
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
