"""``[tracking] tensorboard``: each trial's curves as a TensorBoard run, written by Keras's own
`keras.callbacks.TensorBoard` into ``DIR/<study>/<run name>/{train,validation}``.

The run name starts with the trial number and lists its key params (``trial-0003_lr=0.0032_bs=64_
opt=adamw_depth=3``), so TensorBoard's run selector tells trials apart; the validation run's
``epoch_accuracy`` is the trial's val accuracy per epoch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras
import optuna

__all__ = ["TrialBoard", "run_name", "tensorboard_callback"]

#: params shown in a run's name, in this order, with their short names (a builder's: the first ones)
KEY_PARAMS = (
    ("learning_rate", "lr"),
    ("batch_size", "bs"),
    ("optimizer", "opt"),
    ("depth", "depth"),
    ("base_filters", "filters"),
    ("head", "head"),
    ("fine_tune_layers", "ft"),
    ("dropout", "drop"),
)


def _shown(value: Any) -> str:
    return f"{value:.2g}" if isinstance(value, float) else str(value)


def run_name(number: int, params: dict[str, Any], limit: int = 4) -> str:
    """``trial-NNNN`` and up to ``limit`` key params as ``name=value``, safe as a folder name."""
    pairs = [(short, params[name]) for name, short in KEY_PARAMS if name in params]
    pairs = pairs or [(name, params[name]) for name in sorted(params)]
    parts = [f"trial-{number:04d}", *(f"{short}={_shown(v)}" for short, v in pairs[:limit])]
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", "_".join(parts))


class TrialBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, flushing its event files after every epoch: a pruned trial's
    fit ends in an exception and never reaches ``on_train_end``, which would close them."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        for writer in getattr(self, "_writers", {}).values():
            writer.flush()


def tensorboard_callback(folder: Path, study_name: str, trial: optuna.Trial) -> TrialBoard:
    """The TensorBoard callback of ``trial`` (its params already suggested)."""
    return TrialBoard(log_dir=folder / study_name / run_name(trial.number, trial.params), write_graph=False)
