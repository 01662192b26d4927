"""The search space: `suggest(trial, space) -> CNNParams` (hpo's CNN), `suggest_backbone`
(a pretrained backbone's head and fine-tuning), `suggest_recipe` (the optimizer of a user's
uncompiled model), and the seed's baseline preset.

Retraining reuses this exact code: ``suggest(optuna.trial.FixedTrial(best.params), space)``
gives the `CNNParams` the trial saw. Every parameter is always suggested (a fixed value is a
range with low == high, or a single choice), so a trial's params are complete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hpo.config.space import (
    DIMENSIONS,
    Choice,
    Dimension,
    FloatRange,
    IntRange,
    SearchSpace,
    dimensions_of,
    switch_param,
)

if TYPE_CHECKING:
    import optuna

__all__ = [
    "BASELINE",
    "RECIPE",
    "Augmentation",
    "BackboneParams",
    "CNNParams",
    "Recipe",
    "baseline_mismatch",
    "baseline_trial_params",
    "suggest",
    "suggest_backbone",
    "suggest_recipe",
]

#: the training recipe (optimizer, schedule, loss) hpo compiles a user's uncompiled model with
RECIPE = tuple(d.name for d in dimensions_of("recipe") if d.name != "batch_size")


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


def baseline_mismatch(space: SearchSpace) -> str | None:
    """Name of the first dimension whose range or choices exclude the baseline's value."""
    for dim in dimensions_of("cnn"):
        rng, value = getattr(space, dim.name), getattr(BASELINE, dim.name)
        if not dim.applies(asdict(BASELINE)):
            continue  # not sampled for the baseline (weight decay of its RMSprop)
        if rng is None:
            ok = value == 0.0
        elif isinstance(rng, Choice):
            ok = value in rng.options
        elif dim.switch:
            ok = value == 0.0 and _switchable(rng)
        else:
            ok = rng.low <= value <= rng.high
        if not ok:
            return dim.name
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
    if _switchable(dim) and not trial.suggest_categorical(switch_param(name), [False, True]):
        return 0.0
    return float(trial.suggest_float(name, dim.low, dim.high, log=dim.log))


def _suggest_all(trial: optuna.trial.BaseTrial, space: SearchSpace, dims: list[Dimension]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for dim in dims:
        rng = getattr(space, dim.name)
        if not dim.applies(values):
            values[dim.name] = 0.0
        elif dim.switch:
            values[dim.name] = _penalty(trial, dim.name, rng)
        else:
            values[dim.name] = _suggest(trial, dim.name, rng)
    return values


def suggest(trial: optuna.trial.BaseTrial, space: SearchSpace) -> CNNParams:
    """Sample (or, for a `FixedTrial`, replay) one candidate of hpo's CNN from ``space``."""
    return CNNParams(**_suggest_all(trial, space, dimensions_of("cnn")))


def suggest_backbone(trial: optuna.trial.BaseTrial, space: SearchSpace) -> BackboneParams:
    """Sample (or replay) one head + fine-tuning candidate for a pretrained backbone."""
    return BackboneParams(**_suggest_all(trial, space, dimensions_of("backbone")))


def suggest_recipe(trial: optuna.trial.BaseTrial, space: SearchSpace) -> Recipe:
    """Sample (or replay) the optimizer, learning rate, schedule and label smoothing that hpo
    compiles a user's uncompiled model with."""
    return Recipe(**_suggest_all(trial, space, [DIMENSIONS[name] for name in RECIPE]))


def baseline_trial_params(space: SearchSpace) -> dict[str, Any]:
    """Optuna params that make `suggest` return `BASELINE` (for ``study.enqueue_trial``)."""
    values = asdict(BASELINE)
    params: dict[str, Any] = {}
    for dim in dimensions_of("cnn"):
        if not dim.applies(values):
            continue
        if dim.switch:  # the baseline has no L1/L2: off, through the switch where there is one
            rng = getattr(space, dim.name)
            if rng is not None and _switchable(rng):
                params[dim.switch_param] = False
        else:
            params[dim.name] = values[dim.name]
    return params
