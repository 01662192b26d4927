"""Study templates shipped with hpo (``NAME.toml`` beside this file), used by `hpo init`.

A template is a study file in `string.Template` form: ``$name``, ``$source``, ``$preset`` (the
``[[study.enqueue]]`` head start), ``$search`` (the ranges around it) and, for each `Pick` of
`hpo.init.defaults.Defaults`, ``$field`` and ``$field_why`` (its reason, written as a comment).
Its ``#:`` lines (TOML, dropped from the output) are its knobs: the budget and the candidates
that `hpo.init.defaults.choose_defaults` fits to the data.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources

from hpo.errors import HpoError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Template", "load_template", "template_names"]


@dataclass(frozen=True)
class Template:
    name: str
    text: str  # the study file with placeholders
    description: str
    max_image_size: int
    image_size_note: str  # said when the median image is larger than the cap
    minutes: float  # the search's default budget (its timeout)
    timing: str  # where `hpo init` times the preset: "any" device, or only where a "gpu" is visible
    epochs: tuple[int, int]  # max_epochs is clamped to this range
    n_trials: int  # the trial cap when the preset is not timed
    batch_sizes: tuple[int, ...]  # candidates; `choose_defaults` keeps those that fit the data
    batch_cap: int  # the preset's largest batch size
    widths: tuple[int, ...]  # the preset's first-block widths (filters) to choose from
    width: int  # the preset's width when it is not timed


def template_names() -> list[str]:
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_template(name: str) -> Template:
    """The template ``name``; an unknown name is a one-line error listing the others."""
    if name not in template_names():
        raise HpoError(f"no study template '{name}' — choose from {', '.join(template_names())}")
    lines = (resources.files(__name__) / f"{name}.toml").read_text(encoding="utf-8").splitlines()
    knobs = tomllib.loads("\n".join(ln[2:] for ln in lines if ln.startswith("#:")))
    text = "\n".join(ln for ln in lines if not ln.startswith("#:")) + "\n"
    for key in ("epochs", "batch_sizes", "widths"):
        knobs[key] = tuple(knobs[key])
    return Template(name=name, text=text, **knobs)
