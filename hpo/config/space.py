"""The ``[search]`` section: each search dimension declared once, as data.

A `Dimension` says how a study file may set it (its type and limits), which model families
sample it, whether a range comes with an on/off switch (``l1_on``), and when it is sampled at
all (``weight_decay`` only with AdamW). `SearchSpace` holds a study's ranges; its defaults are
the default ranges. Everything that needs to know about a dimension reads this table: the
loader (`hpo.config.load`), sampling and replay (`hpo.model.space`), the baseline and presets
(`hpo.model.presets`) and the report's "why this parameter is not plotted" (`hpo.report.params`)
-- as keras-tuner keeps conditions as data instead of ``if``s in several modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DIMENSIONS",
    "FAMILY_KINDS",
    "HEADS",
    "LR_DECAYS",
    "OPTIMIZERS",
    "SWITCH_SUFFIX",
    "Choice",
    "Dimension",
    "FloatRange",
    "IntRange",
    "SearchSpace",
    "dimensions_of",
    "switch_param",
]

OPTIMIZERS = ("rmsprop", "adam", "adamw", "sgd")
LR_DECAYS = ("none", "exponential", "cosine")
HEADS = ("flatten", "gap")
#: what samples a dimension: hpo's CNN, a pretrained backbone's head, and the training recipe
#: hpo compiles a user's uncompiled model with (plus its batch size)
FAMILY_KINDS = ("cnn", "backbone", "recipe")


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]


@dataclass(frozen=True)
class Dimension:
    """One search dimension. ``kind``: the type of its values; ``limits``: what a study file's
    range may span (numbers) or the allowed options (strings); ``choice``: set as a list of
    options, not a [min, max] range; ``switch``: a range (low < high) adds ``NAME_on`` so the
    search can also turn it off, 0/false in the study file turns it off for good;
    ``only_with``: sampled only when another dimension has that value."""

    name: str
    kind: type
    families: frozenset[str]
    limits: tuple[Any, ...] = ()
    choice: bool = False
    log: bool = False
    switch: bool = False
    only_with: tuple[str, Any] | None = None

    @property
    def switch_param(self) -> str:
        """The Optuna parameter of its on/off switch (``l2_on``)."""
        return switch_param(self.name)

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether it is sampled, given the values sampled before it."""
        return self.only_with is None or values.get(self.only_with[0]) == self.only_with[1]

    def condition_text(self) -> str:
        """The condition as a study file writes it (``optimizer = "adamw"``), or ""."""
        return "" if self.only_with is None else f"{self.only_with[0]} = {json.dumps(self.only_with[1])}"


SWITCH_SUFFIX = "_on"


def switch_param(name: str) -> str:
    """``l2`` -> ``l2_on``: the parameter that turns a switchable dimension on or off."""
    return name + SWITCH_SUFFIX


_ALL = frozenset(FAMILY_KINDS)
_NETS = frozenset({"cnn", "backbone"})
_CNN = frozenset({"cnn"})
_BACKBONE = frozenset({"backbone"})


def _dims(*dims: Dimension) -> dict[str, Dimension]:
    return {d.name: d for d in dims}


#: every dimension, in sampling order (a condition's dimension comes before the one it gates)
DIMENSIONS: dict[str, Dimension] = _dims(
    Dimension("learning_rate", float, _ALL, (1e-7, 10.0), log=True),
    Dimension("batch_size", int, _ALL, (1, 65536), choice=True),
    Dimension("l1", float, _CNN, (1e-12, 10.0), log=True, switch=True),
    Dimension("l2", float, _NETS, (1e-12, 10.0), log=True, switch=True),
    Dimension("dropout", float, _NETS, (0.0, 0.95)),
    Dimension("depth", int, _CNN, (1, 8)),
    Dimension("base_filters", int, _CNN, (1, 512), choice=True),
    Dimension("convs", int, _CNN, (1, 4)),
    Dimension("residual", bool, _CNN, choice=True),
    Dimension("dense_units", int, _NETS, (1, 8192), choice=True),
    Dimension("batch_norm", bool, _CNN, choice=True),
    Dimension("optimizer", str, _ALL, OPTIMIZERS, choice=True),
    Dimension("lr_decay", str, _ALL, LR_DECAYS, choice=True),
    Dimension("flip", bool, _NETS, choice=True),
    Dimension("crop", int, _NETS, (0, 16)),
    Dimension("augment", float, _NETS, (0.0, 1.0)),
    Dimension("head", str, _CNN, HEADS, choice=True),
    Dimension("weight_decay", float, _ALL, (1e-8, 1.0), log=True, only_with=("optimizer", "adamw")),
    Dimension("label_smoothing", float, _ALL, (0.0, 0.5)),
    Dimension("fine_tune_layers", int, _BACKBONE, (0, 10_000)),
    Dimension("backbone_lr_scale", float, _BACKBONE, (1e-6, 10.0), log=True),
)


def dimensions_of(kind: str) -> list[Dimension]:
    """The dimensions a family kind (`FAMILY_KINDS`) samples, in sampling order."""
    return [d for d in DIMENSIONS.values() if kind in d.families]


@dataclass(frozen=True)
class SearchSpace:
    """A study's ranges and choices (the defaults are the default search space). ``l1``/``l2``:
    None = always off; a range (low < high) comes with its on/off switch; a fixed value
    (low == high) is always on."""

    learning_rate: FloatRange = FloatRange(1e-4, 1e-2, log=True)
    batch_size: Choice = Choice((32, 64, 128))
    l1: FloatRange | None = FloatRange(1e-6, 1e-3, log=True)
    l2: FloatRange | None = FloatRange(1e-6, 1e-2, log=True)
    dropout: FloatRange = FloatRange(0.0, 0.6)
    depth: IntRange = IntRange(1, 4)
    base_filters: Choice = Choice((16, 32, 48, 64))
    convs: IntRange = IntRange(1, 2)
    residual: Choice = Choice((False, True))
    dense_units: Choice = Choice((64, 128, 256))
    batch_norm: Choice = Choice((True, False))
    optimizer: Choice = Choice(OPTIMIZERS)
    lr_decay: Choice = Choice(LR_DECAYS)
    flip: Choice = Choice((False, True))
    crop: IntRange = IntRange(0, 4)
    augment: FloatRange = FloatRange(0.0, 0.5)
    head: Choice = Choice(HEADS)
    weight_decay: FloatRange = FloatRange(1e-5, 1e-2, log=True)
    label_smoothing: FloatRange = FloatRange(0.0, 0.1)
    fine_tune_layers: IntRange = IntRange(0, 30)
    backbone_lr_scale: FloatRange = FloatRange(0.01, 1.0, log=True)
