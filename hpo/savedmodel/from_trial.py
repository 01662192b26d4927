"""`hpo export --from-trial`: a trial's own weights in its rebuilt network, with no training.

The search stored each trial's best-epoch weights as an Optuna artifact (`hpo.study.artifacts`);
`fetch_weights` downloads them and checks their SHA-256, `rebuild` builds the trial's network
again from its params (``FixedTrial``: the exact search-space code), and the weights are loaded
into it (`load_weights`, also what an ensemble export loads each member with). The export then writes
and verifies the folder as after a retrain (`hpo.savedmodel.export`); the model saw the train split
only, up to its best epoch.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import optuna
from optuna.trial import FrozenTrial

from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import HpoError
from hpo.model.builders import Builder, family_name
from hpo.model.cnn import inference_accuracy
from hpo.records.trial import StoredWeights
from hpo.savedmodel.retrain import Retrained, rebuild
from hpo.study.artifacts import fetch_weights

__all__ = ["load_trial_model", "load_weights"]


def load_weights(
    config: StudyConfig, study: optuna.Study, data: PreparedData, trial: FrozenTrial, build: Builder | None = None
) -> tuple[keras.Model, dict[str, Any], StoredWeights]:
    """``trial``'s network with its stored weights, its resolved params and the weights' record;
    `HpoError` when they are missing, changed, or do not fit the network the study file builds now."""
    with tempfile.TemporaryDirectory(prefix="hpo-weights-") as tmp:
        path, stored = fetch_weights(study, trial, config.artifacts.store, Path(tmp))
        # every weight comes from the file: a backbone is built without downloading ImageNet's
        local = replace(config, model=replace(config.model, weights=None))
        candidate = rebuild(local, data, trial, ("train",), stored.epoch, build)
        try:
            candidate.model.load_weights(path)
        except (ValueError, OSError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise HpoError(
                f"the stored weights of trial {trial.number} do not fit the network the study file builds from "
                f"its params ({first}) — was [model] or [search] changed? Export by retraining (drop --from-trial)"
            ) from None
    return candidate.model, candidate.params, stored


def load_trial_model(
    config: StudyConfig, study: optuna.Study, data: PreparedData, trial: FrozenTrial, build: Builder | None = None
) -> Retrained:
    """``trial``'s network with its stored weights; `HpoError` when they are missing, changed, or
    do not fit the network the study file builds now."""
    model, params, stored = load_weights(config, study, data, trial, build)
    train_accuracy = inference_accuracy(model, *data.arrays("train"))
    return Retrained(model, params, trial, stored.epoch, 0.0, train_accuracy, family_name(config, build), True)
