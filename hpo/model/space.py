"""The search space: `suggest(trial, space) -> CNNParams` (hpo's CNN), `suggest_backbone`
(a pretrained backbone's head and fine-tuning), `suggest_recipe` (the optimizer of a user's
uncompiled model), and the seed's baseline preset.

Retraining reuses this exact code: ``suggest(optuna.trial.FixedTrial(best.params), space)``
gives the `CNNParams` the trial saw. Every parameter is always suggested (a fixed value is a
range with low == high, or a single choice), so a trial's params are complete.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import optuna

__all__ = [
    "BACKBONE_ONLY",
    "BASELINE",
    "CNN_ONLY",
    "RECIPE",
    "Augmentation",
    "BackboneParams",
    "CNNParams",
    "Choice",
    "FloatRange",
    "IntRange",
    "Recipe",
    "SearchSpace",
    "baseline_trial_params",
    "suggest",
    "suggest_backbone",
    "suggest_recipe",
]

OPTIMIZERS = ("rmsprop", "adam", "adamw", "sgd")
LR_DECAYS = ("none", "exponential", "cosine")
HEADS = ("flatten", "gap")
#: dimensions only hpo's CNN uses, only a pretrained backbone uses, and the training recipe
#: (optimizer, schedule, loss) hpo gives a user's model that comes back uncompiled
CNN_ONLY = ("l1", "depth", "base_filters", "convs", "residual", "batch_norm", "head")
BACKBONE_ONLY = ("fine_tune_layers", "backbone_lr_scale")
RECIPE = ("learning_rate", "optimizer", "lr_decay", "weight_decay", "label_smoothing")


@dataclass(frozen=True)
class Augmentation:
    """Training-only image augmentation: horizontal ``flip``; ``crop``: random shifts of up to
    that many pixels, the edge reflected (pad-and-crop); ``strength``: random shift, rotation and
    zoom scaled together (0 = off)."""

    flip: bool = False
    crop: int = 0
    strength: float = 0.0


@dataclass(frozen=True)
class Recipe:
    """How a model is compiled: optimizer, learning rate and schedule, label smoothing."""

    learning_rate: float = 1e-3
    optimizer: str = "rmsprop"
    lr_decay: str = "none"
    weight_decay: float = 0.0  # decoupled weight decay, AdamW only
    label_smoothing: float = 0.0


class _Training:
    """The recipe and augmentation of a candidate whose fields hold them (`CNNParams`,
    `BackboneParams`)."""

    learning_rate: float
    optimizer: str
    lr_decay: str
    weight_decay: float
    label_smoothing: float
    flip: bool
    crop: int
    augment: float

    @property
    def recipe(self) -> Recipe:
        return Recipe(self.learning_rate, self.optimizer, self.lr_decay, self.weight_decay, self.label_smoothing)

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(self.flip, self.crop, self.augment)


@dataclass(frozen=True)
class CNNParams(_Training):
    """Everything that defines one candidate network and its training. Defaults = the seed's
    baseline: 2 conv blocks (32, 64 filters, 3x3, ReLU, max-pool, BatchNorm), dense 128 ReLU,
    softmax, dropout 0.5, RMSprop lr 1e-3, batch 32, no L1/L2, constant lr, no augmentation.
    ``convs`` > 1 stacks that many 3x3 convs per block (VGG-style); ``residual`` adds each block's
    input to its output (a 1x1 projection where the width changes)."""

    learning_rate: float = 1e-3
    batch_size: int = 32
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.5
    depth: int = 2
    base_filters: int = 32
    convs: int = 1
    residual: bool = False
    dense_units: int = 128
    batch_norm: bool = True
    optimizer: str = "rmsprop"
    lr_decay: str = "none"
    flip: bool = False
    crop: int = 0
    augment: float = 0.0
    head: str = "flatten"  # "gap": global average pooling instead of flattening the last maps
    weight_decay: float = 0.0  # decoupled weight decay, AdamW only
    label_smoothing: float = 0.0

    def filters(self) -> list[int]:
        """Filters of each conv block: doubling from ``base_filters``, capped at 512."""
        return [min(self.base_filters * 2**i, 512) for i in range(self.depth)]


BASELINE = CNNParams()


@dataclass(frozen=True)
class BackboneParams(_Training):
    """One candidate on a pretrained backbone: the head (dropout, dense units, L2), how many
    of the backbone's top layers are fine-tuned and at what fraction of the head's learning
    rate, and the training recipe."""

    learning_rate: float
    batch_size: int
    l2: float
    dropout: float
    dense_units: int
    optimizer: str
    lr_decay: str
    flip: bool
    crop: int
    augment: float
    weight_decay: float
    label_smoothing: float
    fine_tune_layers: int  # 0 = the backbone is frozen (feature extraction)
    backbone_lr_scale: float  # backbone learning rate = learning_rate * this


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
class SearchSpace:
    """Ranges and choices. ``l1``/``l2``: None = always off; a range (low < high) adds an
    on/off switch (``l1_on``) so the search can also turn the penalty off; a fixed value
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
    weight_decay: FloatRange = FloatRange(1e-5, 1e-2, log=True)  # suggested only for AdamW
    label_smoothing: FloatRange = FloatRange(0.0, 0.1)
    fine_tune_layers: IntRange = IntRange(0, 30)  # pretrained backbones only
    backbone_lr_scale: FloatRange = FloatRange(0.01, 1.0, log=True)  # pretrained backbones only

    def baseline_mismatch(self) -> str | None:
        """Name of the first parameter whose range or choices exclude the baseline's value."""
        for f in fields(self):
            if f.name in BACKBONE_ONLY:
                continue
            dim, value = getattr(self, f.name), getattr(BASELINE, f.name)
            if dim is None:
                ok = value == 0.0
            elif isinstance(dim, Choice):
                ok = value in dim.options
            elif f.name in ("l1", "l2"):
                ok = value == 0.0 and _switchable(dim)
            elif f.name == "weight_decay":
                ok = True  # not suggested for the baseline's RMSprop
            else:
                ok = dim.low <= value <= dim.high
            if not ok:
                return f.name
        return None


def _suggest(trial: optuna.trial.BaseTrial, name: str, dim: FloatRange | IntRange | Choice) -> Any:
    if isinstance(dim, Choice):
        return trial.suggest_categorical(name, list(dim.options))
    if isinstance(dim, IntRange):
        return trial.suggest_int(name, dim.low, dim.high)
    return trial.suggest_float(name, dim.low, dim.high, log=dim.log)


def _switchable(dim: FloatRange) -> bool:
    return dim.low < dim.high


def _penalty(trial: optuna.trial.BaseTrial, name: str, dim: FloatRange | None) -> float:
    if dim is None:
        return 0.0
    if _switchable(dim) and not trial.suggest_categorical(f"{name}_on", [False, True]):
        return 0.0
    return float(trial.suggest_float(name, dim.low, dim.high, log=dim.log))


def _suggest_all(trial: optuna.trial.BaseTrial, space: SearchSpace, names: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        dim = getattr(space, name)
        if name in ("l1", "l2"):
            values[name] = _penalty(trial, name, dim)
        elif name == "weight_decay":
            values[name] = _suggest(trial, name, dim) if values["optimizer"] == "adamw" else 0.0
        else:
            values[name] = _suggest(trial, name, dim)
    return values


def suggest(trial: optuna.trial.BaseTrial, space: SearchSpace) -> CNNParams:
    """Sample (or, for a `FixedTrial`, replay) one candidate of hpo's CNN from ``space``."""
    names = [f.name for f in fields(space) if f.name not in BACKBONE_ONLY]
    return CNNParams(**_suggest_all(trial, space, names))


def suggest_backbone(trial: optuna.trial.BaseTrial, space: SearchSpace) -> BackboneParams:
    """Sample (or replay) one head + fine-tuning candidate for a pretrained backbone."""
    names = [f.name for f in fields(space) if f.name not in CNN_ONLY]
    return BackboneParams(**_suggest_all(trial, space, names))


def suggest_recipe(trial: optuna.trial.BaseTrial, space: SearchSpace) -> Recipe:
    """Sample (or replay) the optimizer, learning rate, schedule and label smoothing that hpo
    compiles a user's uncompiled model with."""
    return Recipe(**_suggest_all(trial, space, list(RECIPE)))


def baseline_trial_params(space: SearchSpace) -> dict[str, Any]:
    """Optuna params that make `suggest` return `BASELINE` (for ``study.enqueue_trial``)."""
    params: dict[str, Any] = {}
    for f in fields(space):
        if f.name in BACKBONE_ONLY:
            continue
        value = getattr(BASELINE, f.name)
        if f.name in ("l1", "l2"):
            dim = getattr(space, f.name)
            if dim is not None and _switchable(dim):
                params[f"{f.name}_on"] = False
        elif f.name == "weight_decay":
            continue  # only AdamW has it
        else:
            params[f.name] = value
    return params
