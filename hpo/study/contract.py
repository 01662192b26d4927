"""What `run_search` asks of the thing that trains one trial, so that a harness can run hpo's
real worker path (open the study, claim a slot, heartbeat, report every epoch, tell, retry
stale trials, ride out outages) with the training replaced by a stub that never imports
TensorFlow (`benchmarks/scale.py`, `tests/helpers/simworker.py`).

`hpo.study.objective.Objective` is the real one; `make_objective=` on `run_search` swaps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import optuna

from hpo.config import StudyConfig

__all__ = ["EpochHook", "ObjectiveFactory", "TrialObjective"]

#: (trial number, epoch 1-based, epochs, val accuracy) after every epoch
EpochHook = Callable[[int, int, int, "float | None"], None]


class TrialObjective(Protocol):
    """Called by ``study.optimize`` once per trial. It must call ``on_start`` as soon as the
    trial exists (this releases the study lock), report each epoch to ``trial``, raise
    `optuna.TrialPruned` when told to, and set ``current`` to the number of its trial, so an
    interrupted trial can be re-queued. ``worker``: the name recorded on its trials."""

    worker: str
    current: int | None

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]: ...


class ObjectiveFactory(Protocol):
    """Builds the objective of one worker process (``data``: hpo's `PreparedData`, or whatever
    the stub wants)."""

    def __call__(
        self,
        config: StudyConfig,
        data: Any,
        worker: str,
        *,
        on_start: Callable[[], None],
        on_epoch: EpochHook,
    ) -> TrialObjective: ...
