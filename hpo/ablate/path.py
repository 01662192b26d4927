"""The greedy ablation path between two configurations (Optuna params dicts), as data.

A *setting* is what moves in one step: a search dimension together with its on/off switch
(``l2`` and ``l2_on``) and the dimensions sampled only under one of its values (``weight_decay``
under ``optimizer = "adamw"``), read from `hpo.config.space.DIMENSIONS`; a parameter hpo does not
declare (a user builder's own) is a setting of its own. Settings on which source and target agree
are skipped. `walk` follows the path as far as the measured values allow: from the source, each
step measures every configuration that takes one more of the target's settings and keeps the one
with the best mean val accuracy (after Fawcett & Hoos, 2016).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from hpo.config.space import DIMENSIONS, SWITCH_SUFFIX

__all__ = ["Config", "Measured", "Path", "Step", "config_key", "moved", "settings", "walk"]

Config = dict[str, Any]  # Optuna params, as a trial records them


def config_key(config: Mapping[str, Any]) -> str:
    """A configuration as one canonical string (sorted keys), to look it up among trials."""
    return json.dumps(dict(config), sort_keys=True)


def _root(param: str) -> str:
    """The setting a parameter moves with: its dimension, that dimension's condition's parent."""
    name = param
    if name.endswith(SWITCH_SUFFIX) and DIMENSIONS.get(name[: -len(SWITCH_SUFFIX)], None) is not None:
        name = name[: -len(SWITCH_SUFFIX)]
    dim = DIMENSIONS.get(name)
    while dim is not None and dim.only_with is not None:
        name = dim.only_with[0]
        dim = DIMENSIONS.get(name)
    return name


def settings(source: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Setting -> its parameters, for every setting on which ``source`` and ``target`` differ (a
    parameter present in one of them only differs), in the sampling order of `DIMENSIONS`."""
    order = list(DIMENSIONS)
    grouped: dict[str, list[str]] = {}
    for param in sorted(source.keys() | target.keys()):
        grouped.setdefault(_root(param), []).append(param)
    differ = {
        root: tuple(params)
        for root, params in grouped.items()
        if any(source.get(p, _ABSENT) != target.get(p, _ABSENT) for p in params)
    }
    return dict(sorted(differ.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


_ABSENT = object()


@dataclass(frozen=True)
class Step:
    """One step of the path: ``taken`` (the settings moved to the target's values so far, this
    step's last), the configuration, its val accuracy per seed (None: that training failed)."""

    number: int
    taken: tuple[str, ...]
    config: Config
    values: tuple[float | None, ...]

    @property
    def changed(self) -> str | None:
        """The setting this step moved (None for step 0, the source)."""
        return self.taken[-1] if self.taken else None

    @property
    def mean(self) -> float:
        ok = [v for v in self.values if v is not None]
        return statistics.fmean(ok) if ok else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation over the seeds (NaN with fewer than two)."""
        ok = [v for v in self.values if v is not None]
        return statistics.stdev(ok) if len(ok) > 1 else math.nan


@dataclass(frozen=True)
class Path:
    """The steps measured so far and what the next step still needs (`missing`: configuration,
    seed), empty once the path reached the target."""

    steps: tuple[Step, ...]
    missing: tuple[tuple[Config, int], ...]
    remaining: tuple[str, ...]  # settings not taken yet

    @property
    def complete(self) -> bool:
        return not self.remaining and not self.missing

    def gain(self, i: int) -> float:
        """Mean val accuracy gained by step ``i`` over the step before it (NaN for step 0)."""
        return self.steps[i].mean - self.steps[i - 1].mean if i > 0 else math.nan


def moved(source: Mapping[str, Any], target: Mapping[str, Any], params: Sequence[str]) -> Config:
    """``source`` with ``params`` taken from ``target`` (a parameter ``target`` lacks is dropped)."""
    out = {k: v for k, v in source.items() if k not in params}
    out.update({p: target[p] for p in params if p in target})
    return out


#: a val accuracy, None (the training failed), or ``...`` (not measured yet)
Measured = float | None | EllipsisType
Lookup = Callable[[Config, int], Measured]


def walk(source: Config, target: Config, seeds: Sequence[int], lookup: Lookup) -> Path:
    """The path from ``source`` to ``target`` as far as ``lookup(config, seed)`` knows it: a val
    accuracy, None (that training failed), or ``...`` (not measured yet). A step whose every
    candidate failed on every seed keeps its first candidate (the path still reaches the target)."""
    todo = settings(source, target)

    def measure(config: Config) -> tuple[tuple[float | None, ...], list[tuple[Config, int]]]:
        got = [lookup(config, s) for s in seeds]
        missing = [(config, s) for s, v in zip(seeds, got, strict=True) if v is ...]
        return tuple(v if isinstance(v, float) else None for v in got), missing

    values, missing = measure(dict(source))
    if missing:
        return Path((), tuple(missing), tuple(todo))
    steps = [Step(0, (), dict(source), values)]
    while todo:
        current = steps[-1]
        candidates = []
        missing = []
        for name, params in todo.items():
            config = moved(current.config, target, params)
            values, lacking = measure(config)
            missing += lacking
            candidates.append(Step(current.number + 1, (*current.taken, name), config, values))
        if missing:
            return Path(tuple(steps), tuple(missing), tuple(todo))
        best = max(candidates, key=lambda s: -math.inf if math.isnan(s.mean) else s.mean)  # first of equals
        steps.append(best)
        del todo[best.taken[-1]]
    return Path(tuple(steps), (), ())
