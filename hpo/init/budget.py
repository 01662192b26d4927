"""`plan_budget`: how a study spends its minutes, from the preset's step time measured here.

A trial of a network costs its warm-up (build and tracing, measured), each epoch (the training
images at the measured seconds per image, plus the validation and BatchNorm-calibration images
at ~1/3 of that: a forward pass has no backward, and ~1 s of set-up) and one last pass over the
training images (the train accuracy a trial records). A network of another width costs in proportion to its
multiply-adds. The plan then keeps the recipe's training length where it can and fits the rest:
the widest first block whose full training takes at most 1/4 of the budget (studies/
cifar10-mini.toml's 25 minutes held 3.8 of its preset), a Hyperband pruner whose first rung is
~1/10 of max_epochs, and a trial cap that the timeout, not the count, reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hpo.init.pick import Pick
from hpo.init.timing import StepTiming
from hpo.model.space import CNNParams

__all__ = ["FULL_TRAININGS", "Budget", "TrialCost", "multiply_adds", "plan_budget", "pruner_for"]

EVAL_SHARE = 1 / 3  # an inference image costs this share of a training image
#: seconds each epoch costs whatever its images (the validation pass and BatchNorm probe set up,
#: callbacks): measured epochs ran 0.9-1.9 s over the per-image estimate (benchmarks/init_timing.py)
EPOCH_OVERHEAD = 1.0
FULL_TRAININGS = 4  # full trainings of the preset a budget holds
MIN_EPOCH_SHARE = 2 / 3  # epochs shrink to this share of the recipe's before the width does
CHEAP = 1 / 4  # the cheapest candidates of the ranges cost about this share of the preset's epoch
REDUCTION_FACTOR = 3


def multiply_adds(p: CNNParams, image_size: int, num_classes: int) -> int:
    """Multiply-adds of one image through ``p``'s network (convs, projections, dense layers)."""
    total, side, channels = 0, image_size, 3
    for filters in p.filters():
        block_in = channels
        for _ in range(p.convs):
            total += side * side * channels * filters * 9
            channels = filters
        if p.residual and block_in != filters:
            total += side * side * block_in * filters
        side = side // 2 if side >= 2 else side
    features = channels if p.head == "gap" else side * side * channels
    return total + features * p.dense_units + p.dense_units * num_classes


@dataclass(frozen=True)
class TrialCost:
    """Seconds of a trial of the timed network, or of the same network at another width."""

    timing: StepTiming
    num_classes: int
    n_train: int
    n_eval: int  # validation + BatchNorm-calibration images, each epoch

    def _image(self, width: int) -> float:
        timed = self.timing.params
        scale = multiply_adds(replace(timed, base_filters=width), self.timing.image_size, self.num_classes) / (
            multiply_adds(timed, self.timing.image_size, self.num_classes)
        )
        return self.timing.image_seconds * scale

    def epoch(self, width: int) -> float:
        t = self._image(width)
        return EPOCH_OVERHEAD + self.n_train * t + self.n_eval * t * EVAL_SHARE

    def trial(self, width: int, epochs: int) -> float:
        warmup = max(0.0, self.timing.warmup_seconds - self.timing.step_seconds)
        return warmup + epochs * self.epoch(width) + self.n_train * self._image(width) * EVAL_SHARE


@dataclass(frozen=True)
class Budget:
    width: Pick[int]
    max_epochs: Pick[int]
    n_trials: Pick[int]
    n_startup_trials: Pick[int]
    full_trial: float  # seconds of the preset's full training


def _widest(cost: TrialCost, widths: tuple[int, ...], share: float, need: int) -> tuple[int, int]:
    """The widest width whose trial of ``need`` epochs fits ``share`` seconds (else the
    narrowest), and the epochs that fit at it."""
    for w in sorted(widths, reverse=True):
        fit = math.floor((share - cost.trial(w, 0)) / cost.epoch(w))
        if fit >= need or w == min(widths):
            return w, fit
    raise AssertionError("unreachable")


def plan_budget(
    cost: TrialCost,
    seconds: int,
    widths: tuple[int, ...],
    epochs: tuple[int, str],
    limits: tuple[int, int],
    *,
    max_epochs: int | None = None,
    n_trials: int | None = None,
) -> Budget:
    """Width, epochs and trial counts for a budget of ``seconds``; ``epochs``: the recipe's
    training length on this data and why; ``limits``: the template's epoch range."""
    lo, hi = limits
    share = seconds / FULL_TRAININGS
    need = max_epochs or max(lo, math.ceil(MIN_EPOCH_SHARE * epochs[0]))
    width, fit = _widest(cost, widths, share, need)
    if max_epochs:
        e, why = max_epochs, "set by --max-epochs"
    else:
        e = min(hi, max(lo, min(epochs[0], fit)))
        cut = f"; {fit} fit 1/{FULL_TRAININGS} of the budget" if fit < epochs[0] else ""
        why = f"{epochs[1]}{cut}"
    full = cost.trial(width, e)
    over = (
        "" if full <= share else f"; it is over 1/{FULL_TRAININGS} of the budget: raise --minutes or lower --image-size"
    )
    width_why = (
        f"the widest of {list(widths)} whose full training ({e} epochs at ~{cost.epoch(width):.1f} s, "
        f"~{full / 60:.1f} min here) fits 1/{FULL_TRAININGS} of the {seconds / 60:g} min budget{over}"
    )
    cheapest = cost.trial(width, 0) + max(1, round(e / 10)) * cost.epoch(width) * CHEAP
    cap = n_trials or max(20, 10 * math.ceil(seconds / cheapest / 10))
    fits = seconds / full
    startup = max(2, min(13, round(fits / 2)))
    return Budget(
        width=Pick(width, width_why),
        max_epochs=Pick(e, why),
        n_trials=Pick(
            cap,
            "set by --n-trials"
            if n_trials
            else f"a cap the timeout reaches first: ~{cheapest:.0f} s for the cheapest trial pruned at its first rung",
        ),
        n_startup_trials=Pick(
            2 + startup,
            f"after the baseline and the preset, {2 + startup} trials near the best so far ([sampler] startup "
            f'"auto"), then TPE: ~{fits:.1f} full trainings fit the budget',
        ),
        full_trial=full,
    )


def pruner_for(n_trials: int, max_epochs: int) -> tuple[Pick[str], Pick[int]]:
    """Hyperband from ~max_epochs / 10 where ``n_trials`` fill its brackets, else successive halving."""
    rf = REDUCTION_FACTOR
    first = max(1, round(max_epochs / 10))
    brackets = math.floor(math.log(max_epochs / first, rf) + 1e-9) + 1
    rungs = ", ".join(str(first * rf**k) for k in range(brackets) if first * rf**k < max_epochs) or "none"
    if brackets > 1 and n_trials >= brackets * rf:
        kind = "hyperband"
        why = f"{brackets} brackets, the later ones prune later or never: a hedge on how early epochs rank trials"
    else:
        kind = "successive_halving"
        room = f"max_epochs {max_epochs} leaves room for one" if brackets == 1 else f"{n_trials} trials are too few"
        why = f"one bracket: {room}"
    where = "its most aggressive bracket cuts" if kind == "hyperband" else "cuts"
    return Pick(kind, why), Pick(
        first,
        f"first cut at ~max_epochs / 10 (epoch 3 of 30 in studies/cifar10-mini.toml: augmented, cosine-scheduled "
        f"candidates start slowly); {where} at epochs {rungs}, keeping 1/{rf}",
    )
