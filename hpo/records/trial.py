"""A trial's user attributes, written and read through one typed record.

Optuna keeps user attributes as JSON under string keys, in a database other processes read
(workers, the dashboard, the report, `hpo export` on another host). Every key hpo writes is a
field of `TrialRecord`: `write` stores the fields that are set, `TrialRecord.of` reads them
back with their types. A renamed field then fails in mypy, not at run time in another process.
The stored keys are the field names, so the dashboard shows them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import optuna
from optuna.trial import FrozenTrial

__all__ = ["IDENTITY", "StoredWeights", "TrialRecord", "baseline_attrs", "is_baseline", "write"]

#: the fields that say what a trial *is*, set when it is enqueued: a retry keeps them (the others
#: record one run of it)
IDENTITY = frozenset({"baseline", "seed", "ablation_config", "ablation_step"})


@dataclass(frozen=True)
class TrialRecord:
    """What hpo records on a trial; None (or empty) = not recorded (yet)."""

    baseline: bool = False  # the seed's baseline preset, enqueued as trial 0
    worker: str | None = None  # "name@host:pid" of the process that ran it
    cuda_visible_devices: str | None = None  # what that process was given ("unset" when nothing)
    retry_of: int | None = None  # the trial whose dead worker this one replaces
    fail_reason: str | None = None  # why a FAIL trial failed, for people
    family: str | None = None  # "cnn", a keras.applications backbone, or a builder "module:function"
    model_params: dict[str, Any] | None = None  # the candidate as the model family resolved it
    param_count: int | None = None
    latency_ms: float | None = None  # CPU-side inference time per image
    train_accuracy: float | None = None  # kept weights, inference mode, train split
    train_val_gap: float | None = None  # train_accuracy - val accuracy of the kept weights
    best_epoch: int | None = None  # 1-based epoch of the best val accuracy
    epochs_run: int | None = None
    fit_train_accuracy: float | None = None  # Keras's running metric at best_epoch (dropout on)
    val_loss: float | None = None  # at best_epoch
    seconds_per_epoch: float | None = None
    val_accuracy_curve: list[float] | None = None  # per epoch; multi-objective trials only
    weights: dict[str, Any] | None = None  # `StoredWeights`, written in one step once its upload finished
    seed: int | None = None  # the training seed, where not [study] seed + trial number (an ablation's)
    ablation_config: dict[str, Any] | None = None  # `hpo ablate`: the configuration (Optuna params) trained
    ablation_step: int | None = None  # `hpo ablate`: the step of the path it was enqueued for

    @classmethod
    def of(cls, trial: FrozenTrial | optuna.Trial) -> TrialRecord:
        """The record of ``trial`` (keys hpo did not write are ignored)."""
        attrs = trial.user_attrs
        return cls(**{f.name: attrs[f.name] for f in fields(cls) if f.name in attrs})

    def gap_or(self, default: float) -> float:
        return self.train_val_gap if self.train_val_gap is not None else default


@dataclass(frozen=True)
class StoredWeights:
    """A trial's weights in the study's artifact store (`TrialRecord.weights`): the Optuna artifact
    id, the file's SHA-256 and size (checked before an export uses it) and the 1-based epoch whose
    weights it holds (the best by val accuracy)."""

    artifact_id: str
    sha256: str
    bytes: int
    epoch: int

    @classmethod
    def of(cls, trial: FrozenTrial | optuna.Trial) -> StoredWeights | None:
        """The trial's record, or None when it has none (or one this version cannot read)."""
        raw = TrialRecord.of(trial).weights
        kinds = {f.name: f.type for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) != set(kinds):
            return None
        ok = all(isinstance(raw[k], str if kinds[k] == "str" else int) for k in kinds)
        return cls(**raw) if ok else None

    def attr(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def write(trial: optuna.Trial, record: TrialRecord) -> None:
    """Store every field of ``record`` that is set (not None; ``baseline`` only when true) on
    ``trial``, leaving the attributes already there alone."""
    for f in fields(record):
        value = getattr(record, f.name)
        if value is not None and value is not False:
            trial.set_user_attr(f.name, value)


def baseline_attrs() -> dict[str, Any]:
    """User attrs of the enqueued baseline trial (for ``study.enqueue_trial``)."""
    return {"baseline": True}


def is_baseline(trial: FrozenTrial | optuna.Trial) -> bool:
    return TrialRecord.of(trial).baseline
