"""Starting points of a study: configurations enqueued before the sampler takes over.

The seed's baseline is one (`hpo.model.space.baseline_trial_params`, trial 0). A study file can
add its own with ``[[study.enqueue]]`` tables — a recipe known to work on similar data, last
study's winner — as AutoKeras starts its tuners from known-good ``initial_hps``: on a budget
that fits a handful of full trainings, the search then spends its trials refining a good
configuration instead of finding the region first. Each table names values of the model
family's search dimensions (`hpo.model.space.CNNParams` or `BackboneParams` fields); every
value must lie inside the study's own ranges, and a dimension left out is sampled.
"""

from __future__ import annotations

from typing import Any

from hpo.model.space import BACKBONE_ONLY, CNN_ONLY, Choice, FloatRange, IntRange, SearchSpace

__all__ = ["PresetError", "preset_trial_params"]


class PresetError(ValueError):
    """A preset value outside its study's space: ``key`` and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def _dimensions(space: SearchSpace, family: str) -> list[str]:
    skip = BACKBONE_ONLY if family == "cnn" else CNN_ONLY
    return [name for name in space.__dataclass_fields__ if name not in skip]


def _check(key: str, dim: FloatRange | IntRange | Choice, value: Any) -> Any:
    if isinstance(dim, Choice):
        if value not in dim.options or type(value) is not type(dim.options[0]):
            raise PresetError(key, f"{value!r} is not one of the study's choices {list(dim.options)}")
        return value
    integer = isinstance(dim, IntRange)
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise PresetError(key, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    number: float = value
    if not dim.low <= number <= dim.high:
        raise PresetError(key, f"{value!r} is outside the study's range [{dim.low:g}, {dim.high:g}]")
    return value if integer else float(number)


def preset_trial_params(space: SearchSpace, family: str, values: dict[str, Any]) -> dict[str, Any]:
    """Optuna params (for ``study.enqueue_trial``) of one preset: ``values`` checked against
    ``space``, L1/L2 turned into their on/off switch and strength. Raises `PresetError`."""
    names = _dimensions(space, family)
    params: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            raise PresetError(key, f"not a search dimension of [model] {family}")
        dim = getattr(space, key)
        if key in ("l1", "l2"):
            if value == 0:
                if dim is not None and dim.low < dim.high:
                    params[f"{key}_on"] = False
                elif dim is not None:
                    raise PresetError(key, f"the study fixes it at {dim.low:g}")
                continue
            if dim is None:
                raise PresetError(key, "the study turns it off (0)")
            if dim.low < dim.high:
                params[f"{key}_on"] = True
        elif key == "weight_decay" and values.get("optimizer") != "adamw":
            raise PresetError(key, 'only AdamW has it — add optimizer = "adamw" or remove it')
        params[key] = _check(key, dim, value)
    return params
