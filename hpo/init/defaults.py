"""`choose_defaults`: a study's values chosen from a dataset `Survey`, each with its reason: the
image size and splits from the data, the head start (`hpo.init.headstart`) and, from a timing
run of its network on this machine, the budget (`hpo.init.budget`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from hpo.config.schema import DataConfig, TrainingConfig
from hpo.data.split import split_counts
from hpo.errors import DataError
from hpo.init.budget import REDUCTION_FACTOR, Budget, TrialCost, plan_budget, pruner_for
from hpo.init.headstart import RECIPE_STEPS, Preset, flips_fit, preset_for, search_ranges
from hpo.init.pick import Pick
from hpo.init.survey import Survey
from hpo.init.templates import Template
from hpo.init.timing import StepTiming
from hpo.model.space import CNNParams

__all__ = ["FRACTION", "Defaults", "Timer", "choose_defaults"]

FRACTION = DataConfig.val  # val and test share of each class: the study file's default
GRID, MIN_SIZE = 8, 16  # image sides: a multiple of 8, at least 16 px

#: times a network at an image size on this machine (`hpo.init.timing.time_network`)
#: times the preset's network here; None where the timing run could not run (it says why)
Timer = Callable[[CNNParams, int], StepTiming | None]


@dataclass(frozen=True)
class Defaults:
    """The data-dependent values of a study file (the `Pick` fields are the template's
    placeholders), the preset, the ranges around it, and the timing run behind the budget."""

    image_size: Pick[int]
    val: Pick[float]
    test: Pick[float]
    max_epochs: Pick[int]
    early_stopping_patience: Pick[int]
    timeout: Pick[int]
    n_trials: Pick[int]
    n_startup_trials: Pick[int]
    pruner: Pick[str]
    min_resource: Pick[int]
    reduction_factor: Pick[int]
    preset: Preset
    search: dict[str, Any]
    timing: StepTiming | None

    def picks(self) -> list[tuple[str, Pick[Any]]]:
        return [(f.name, v) for f in fields(self) if isinstance(v := getattr(self, f.name), Pick)]


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
        f"costs ~{cost:g}x a 32 px one); {t.image_size_note}",
    )


def _splits(s: Survey) -> tuple[Pick[float], Pick[float], int, int]:
    """val and test fractions, and the numbers of training and validation images they leave."""
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
    return val, Pick(test, why), n_train, n_val


def _recipe_epochs(p: CNNParams, n_train: int, limits: tuple[int, int]) -> tuple[int, str]:
    """The recipe's training length (its optimizer steps) on ``n_train`` images, in epochs."""
    steps = max(1, n_train // p.batch_size)
    raw = RECIPE_STEPS / steps
    epochs = min(limits[1], max(limits[0], round(raw)))
    clamp = f", clamped to {limits[0]}..{limits[1]}" if epochs != round(raw) else ""
    return epochs, f"the recipe's {RECIPE_STEPS:,} steps / {steps} an epoch here = {raw:.0f}{clamp}"


def _untimed(t: Template, epochs: tuple[int, str], why: str, max_epochs: int | None, n_trials: int | None) -> Budget:
    nt = n_trials or t.n_trials
    return Budget(
        width=Pick(t.width, f"the template's; not timed ({why})"),
        max_epochs=Pick(max_epochs, "set by --max-epochs") if max_epochs else Pick(epochs[0], epochs[1]),
        n_trials=Pick(nt, "set by --n-trials" if n_trials else f"the '{t.name}' template's budget"),
        n_startup_trials=Pick(max(4, min(15, nt // 5)), "start-up trials (~1/5), near the best so far"),
        full_trial=0.0,
    )


def choose_defaults(
    s: Survey,
    t: Template,
    *,
    image_size: int | None = None,
    max_epochs: int | None = None,
    n_trials: int | None = None,
    minutes: float | None = None,
    flip: bool | None = None,
    timer: Timer | None = None,
    untimed: str = "not asked for",
) -> Defaults:
    """Each data-dependent value with its reason (a flag's value wins). ``timer``: times the
    preset's network here, which sizes the budget; without one, ``untimed`` says why."""
    size = _image_size(s, t, image_size)
    val, test, n_train, n_val = _splits(s)
    names = [c for c, _ in s.counts]
    flips = flips_fit(names) if flip is None else (flip, "on: set by --flip" if flip else "off: set by --no-flip")
    preset = preset_for(size.value, n_train, t.batch_sizes, t.batch_cap, t.width, flips)
    epochs = _recipe_epochs(preset.params, n_train, t.epochs)
    seconds = round(60 * (minutes or t.minutes))
    timing = timer(preset.params, size.value) if timer else None
    if timing:
        calibration = min(TrainingConfig.bn_calibration_images, n_train)  # BatchNorm, each epoch
        cost = TrialCost(timing, len(s.counts), n_train, n_val + calibration)
        budget = plan_budget(cost, seconds, t.widths, epochs, t.epochs, max_epochs=max_epochs, n_trials=n_trials)
        full = budget.full_trial / 60
        ends = f"ends by ~{seconds / 60 + full:.0f} min (the last trial runs on: a full one takes ~{full:.1f} min here)"
    else:
        budget = _untimed(t, epochs, untimed if timer is None else "the timing run failed", max_epochs, n_trials)
        ends = "runs past it by its last trial (not timed here)"
    preset = preset.with_width(budget.width.value, budget.width.reason)
    e = budget.max_epochs.value
    pruner, min_resource = pruner_for(budget.n_trials.value, e)
    patience = max(3, round(e / 5))
    where = "set by --minutes" if minutes else f"the '{t.name}' template's default; hpo init --minutes M sets it"
    return Defaults(
        image_size=size,
        val=val,
        test=test,
        max_epochs=budget.max_epochs,
        early_stopping_patience=Pick(patience, f"stop a trial {patience} epochs (~max_epochs / 5) after its best one"),
        timeout=Pick(seconds, f"{seconds / 60:g} min ({where}): no trial starts after it; the search {ends}"),
        n_trials=budget.n_trials,
        n_startup_trials=budget.n_startup_trials,
        pruner=pruner,
        min_resource=min_resource,
        reduction_factor=Pick(REDUCTION_FACTOR, "Optuna's default: keep the best third at each rung"),
        preset=preset,
        search=search_ranges(preset.params, t.widths, t.batch_sizes, n_train),
        timing=timing,
    )
