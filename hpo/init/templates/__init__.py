"""Study templates shipped with hpo (``NAME.toml`` beside this file), used by `hpo init`.

A template is a study file in `string.Template` form: ``$name``, ``$source`` and, for each
field of `hpo.init.scaffold.Defaults`, ``$field`` and ``$field_why`` (its reason, written as a
comment). Its ``#:`` lines (TOML, dropped from the output) are its knobs: the budget that
`hpo.init.scaffold.choose_defaults` fits to the data.
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
    passes_per_trial: int  # image passes per trial at 32 px (a 64 px image counts 4)
    epochs: tuple[int, int]  # max_epochs is clamped to this range
    n_trials: int
    batch_sizes: tuple[int, ...]  # candidates; `choose_defaults` keeps those that fit the data


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
    knobs["epochs"] = tuple(knobs["epochs"])
    knobs["batch_sizes"] = tuple(knobs["batch_sizes"])
    return Template(name=name, text=text, **knobs)
