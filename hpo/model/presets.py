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

from hpo.config.space import DIMENSIONS, Choice, FloatRange, IntRange, SearchSpace, dimensions_of

__all__ = ["PresetError", "preset_trial_params"]


class PresetError(ValueError):
    """A preset value outside its study's space: ``key`` and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


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
    names = {d.name for d in dimensions_of("cnn" if family == "cnn" else "backbone")}
    params: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            raise PresetError(key, f"not a search dimension of [model] {family}")
        dim, rng = DIMENSIONS[key], getattr(space, key)
        if dim.switch:
            if value == 0:
                if rng is not None and rng.low < rng.high:
                    params[dim.switch_param] = False
                elif rng is not None:
                    raise PresetError(key, f"the study fixes it at {rng.low:g}")
                continue
            if rng is None:
                raise PresetError(key, "the study turns it off (0)")
            if rng.low < rng.high:
                params[dim.switch_param] = True
        elif not dim.applies(values):
            raise PresetError(key, f"only with {dim.condition_text()} — add {dim.condition_text()} or remove it")
        params[key] = _check(key, rng, value)
    return params
