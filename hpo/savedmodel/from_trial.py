"""`hpo export --from-trial`: a trial's own weights in its rebuilt network, with no training.

The search stored each trial's best-epoch weights as an Optuna artifact (`hpo.study.artifacts`);
`fetch_weights` downloads them and checks their SHA-256, `rebuild` builds the trial's network
again from its params (``FixedTrial``: the exact search-space code), and the weights are loaded
into it (`hpo.savedmodel.ensemble.load_weights`). The export then writes and verifies the folder
as after a retrain (`hpo.savedmodel.export`); the model saw the train split only, up to its best epoch.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.model.builders import Builder, family_name
from hpo.model.cnn import inference_accuracy
from hpo.savedmodel.ensemble import load_weights
from hpo.savedmodel.retrain import Retrained

__all__ = ["load_trial_model"]


def load_trial_model(
    config: StudyConfig, study: optuna.Study, data: PreparedData, trial: FrozenTrial, build: Builder | None = None
) -> Retrained:
    """``trial``'s network with its stored weights; `HpoError` when they are missing, changed, or
    do not fit the network the study file builds now."""
    model, params, stored = load_weights(config, study, data, trial, build)
    train_accuracy = inference_accuracy(model, *data.arrays("train"))
    return Retrained(model, params, trial, stored.epoch, 0.0, train_accuracy, family_name(config, build), True)
