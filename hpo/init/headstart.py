"""The head start `hpo init` gives new data: the recipe measured on cifar10-mini, scaled to the
image size and dataset size, as a ``[[study.enqueue]]`` preset, and ``[search]`` ranges around it.

The recipe (`studies/cifar10-mini.toml`'s preset; BENCHMARKS.md, "Fourth run" and its ablation):
two 3x3 convs per block (+11 test points), pad-and-crop (+6), AdamW + cosine + label smoothing
(+2.4), flips (+1.5), a global-average-pooling head, dropout 0.2 before a 256-unit layer. What
depends on the data is scaled here: the depth (the last feature map stays >= 4 px), the crop
(~1/8 of the side), the batch size (>= 50 steps an epoch where the data allows, the learning
rate scaled by sqrt(batch / 64)) and whether flips fit the classes. The width is the budget's
(`hpo.init.budget`). Every range contains the preset's value and the seed baseline's (trial 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from hpo.fsutil import shown
from hpo.model.space import BASELINE, CNNParams

__all__ = [
    "RECIPE",
    "RECIPE_EPOCHS",
    "RECIPE_STEPS",
    "Preset",
    "flips_fit",
    "preset_for",
    "search_ranges",
]

#: the measured recipe at cifar10-mini's scale (32 px, 4,200 training images)
RECIPE = CNNParams(
    depth=3,
    base_filters=32,
    convs=2,
    residual=False,
    head="gap",
    dense_units=256,
    dropout=0.2,
    batch_size=64,
    flip=True,
    crop=4,
    augment=0.0,
    optimizer="adamw",
    learning_rate=2e-3,
    weight_decay=0.05,
    lr_decay="cosine",
    label_smoothing=0.1,
    l2=0.0,
)
RECIPE_EPOCHS = 30
#: optimizer steps the recipe was measured with: 30 epochs of 4,200 images in batches of 64
RECIPE_STEPS = RECIPE_EPOCHS * 4200 // RECIPE.batch_size
MIN_SIDE = 4  # px: the last feature map's side stays at least this
PRESET_STEPS = 50  # steps per epoch the preset's batch size leaves where the data allows
MIN_STEPS = 20  # a batch size in [search] leaves at least this many steps per epoch
#: keys of the preset, in the order the study file lists them
KEYS = (
    "depth",
    "base_filters",
    "convs",
    "residual",
    "head",
    "dense_units",
    "dropout",
    "batch_size",
    "flip",
    "crop",
    "augment",
    "optimizer",
    "learning_rate",
    "weight_decay",
    "lr_decay",
    "label_smoothing",
    "l2",
)
#: words that give a class a side (a mirrored "left" is a "right"), in a few languages
SIDE_WORDS = frozenset(
    "left right lh rh links rechts gauche droite izquierda derecha sinistra destra esquerda direita".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Preset:
    """The preset's values (`CNNParams`) and, for each scaled key, why it has its value."""

    params: CNNParams
    reasons: dict[str, str]

    def values(self) -> dict[str, Any]:
        """The ``[[study.enqueue]]`` table."""
        return {k: getattr(self.params, k) for k in KEYS}

    def with_width(self, width: int, reason: str) -> Preset:
        return Preset(replace(self.params, base_filters=width), {**self.reasons, "base_filters": reason})


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)  # camelCase -> camel Case
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def flips_fit(class_names: list[str]) -> tuple[bool, str]:
    """Whether random horizontal flips suit these classes, from their names: not when a name
    gives a side (a mirrored left arrow is a right arrow) or every name is one character (digits,
    letters: a mirrored glyph is another glyph). Photos of objects and scenes rarely mean a side."""
    sided = [c for c in class_names if SIDE_WORDS.intersection(_words(c))]
    if sided:
        return False, f"off: class {shown(sided[0])} names a side, which a mirror image swaps"
    if all(len(c) == 1 for c in class_names):
        return False, "off: one-character class names (digits, letters): a mirrored glyph is another glyph"
    return True, "on: no class name gives a side (left/right) or is a glyph; hpo init --no-flip turns them off"


def _depth(image_size: int) -> int:
    return max(1, min(8, int(math.log2(image_size / MIN_SIDE))))


def _batch(batch_sizes: tuple[int, ...], cap: int, n_train: int) -> int:
    fits = [b for b in batch_sizes if b <= cap and n_train // b >= PRESET_STEPS]
    return max(fits) if fits else min(batch_sizes)


def preset_for(
    image_size: int, n_train: int, batch_sizes: tuple[int, ...], batch_cap: int, width: int, flip: tuple[bool, str]
) -> Preset:
    """The recipe scaled to ``image_size`` px and ``n_train`` training images (``batch_sizes``:
    the template's candidates, at most ``batch_cap``), at ``width`` filters in its first block."""
    depth = _depth(image_size)
    crop = max(1, min(16, round(image_size / 8)))
    batch = _batch(batch_sizes, batch_cap, n_train)
    lr = float(f"{RECIPE.learning_rate * math.sqrt(batch / RECIPE.batch_size):.2g}")
    params = replace(
        RECIPE, depth=depth, crop=crop, batch_size=batch, learning_rate=lr, flip=flip[0], base_filters=width
    )
    steps = n_train // batch
    reasons = {
        "depth": f"{depth} blocks: the last feature map is {image_size >> depth} px (>= {MIN_SIDE}) at {image_size} px",
        "crop": f"pad-and-crop by up to {crop} px, ~1/8 of the {image_size} px side (4 at 32 px: +6 test points)",
        "batch_size": f"{steps} steps an epoch on {n_train:,} training images: the largest of {list(batch_sizes)} "
        f"up to {batch_cap} that leaves >= {PRESET_STEPS} (else the smallest)",
        "learning_rate": f"the recipe's 2e-3 at batch 64, scaled by sqrt({batch} / 64)",
        "flip": flip[1],
    }
    return Preset(params, reasons)


#: the comment beside each [search] key
NOTES = {
    "learning_rate": "log scale",
    "l1": "off: L2 and weight decay cover regularization",
    "l2": "with an on/off switch",
    "depth": "conv blocks, each halving the image side",
    "base_filters": "doubled by each block (capped at 512)",
    "convs": "3x3 convs per block",
    "residual": "add each block's input to its output",
    "flip": "random horizontal flips",
    "crop": "pad-and-crop shifts, px",
    "augment": "shift/rotation/zoom: cost accuracy at 32 px (issue 8's ablation)",
    "head": "gap: global average pooling, far fewer weights",
    "weight_decay": "AdamW only",
}


def _around(low: float, high: float, *musts: float) -> list[float]:
    return [min(low, *musts), max(high, *musts)]


def search_ranges(p: CNNParams, widths: tuple[int, ...], batch_sizes: tuple[int, ...], n_train: int) -> dict[str, Any]:
    """``[search]`` around the preset ``p``: each range holds its value and the baseline's."""
    base = BASELINE
    batches = {b for b in batch_sizes if p.batch_size // 2 <= b <= 2 * p.batch_size and n_train // b >= MIN_STEPS}
    filters = {w for w in widths if p.base_filters // 2 <= w <= p.base_filters}
    return {
        "learning_rate": _around(p.learning_rate / 4, p.learning_rate * 2, base.learning_rate),
        "batch_size": sorted(batches | {p.batch_size, base.batch_size}),
        "l1": 0,
        "l2": [1e-5, 1e-3],
        "dropout": _around(0.1, 0.5, p.dropout, base.dropout),
        "depth": [int(x) for x in _around(max(1, p.depth - 1), p.depth, base.depth)],
        "base_filters": sorted(filters | {p.base_filters, base.base_filters}),
        "convs": [1, 2],
        "residual": [False, True],
        "dense_units": sorted({base.dense_units, p.dense_units}),
        "batch_norm": True,
        "optimizer": ["rmsprop", "adam", "adamw"],
        "lr_decay": ["none", "cosine"],
        "flip": [False, True] if p.flip else False,
        "crop": [0, p.crop],
        "augment": 0.0,
        "head": ["flatten", "gap"],
        "weight_decay": [1e-3, 1e-1],
        "label_smoothing": [0.0, 0.1],
    }
