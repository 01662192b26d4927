"""`hpo export --ensemble K`: the search's best trials, averaged, chosen on the val split.

A search trains many networks and an export used to keep one. Here the complete trials with
stored weights (`hpo.study.artifacts`; at most `CANDIDATES`, the most accurate first) are loaded
as `hpo export --from-trial` loads one, each predicts the val split, and members are added
greedily (Caruana et al., 2004, without replacement): start from the best trial, add the trial
whose averaged class probabilities score best on val — accuracy first, log loss on ties — and
stop at K members or when no trial improves the score. The val split is what the trials were
validated on and none of them trained on it; the test split is not read until the export scores
the result once. The exported model averages its members' softmax outputs: one input (0-255
pixels, as every member takes them), one output, a SavedModel like any other — K times the
inference cost of one member at most.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import optuna

from hpo.config import StudyConfig
from hpo.data.prepared import PreparedData
from hpo.errors import HpoError
from hpo.model.builders import Builder, family_name
from hpo.model.cnn import inference_accuracy
from hpo.savedmodel.from_trial import load_weights
from hpo.savedmodel.retrain import Retrained
from hpo.study.artifacts import stored_trials

__all__ = ["CANDIDATES", "average_model", "load_ensemble", "select_members"]

log = logging.getLogger(__name__)
CANDIDATES = 8  # trials loaded and scored on val, the most accurate first


def _score(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(accuracy, minus the mean log loss): higher is better, compared in that order."""
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(np.mean(probs.argmax(1) == labels)), float(np.mean(np.log(picked)))


def select_members(probs: Mapping[int, np.ndarray], labels: np.ndarray, size: int) -> list[int]:
    """Greedy forward selection of at most ``size`` keys of ``probs`` (trial -> val class
    probabilities): the best alone first, then whichever addition scores best, while one improves."""
    if not probs:
        raise ValueError("no candidates")
    order = sorted(probs, key=lambda n: _score(probs[n], labels), reverse=True)
    chosen, total = [order[0]], probs[order[0]].astype(np.float64)
    best = _score(total, labels)
    while len(chosen) < size:
        tries = [(_score((total + probs[n]) / (len(chosen) + 1), labels), n) for n in order if n not in chosen]
        if not tries:
            break
        score, n = max(tries, key=lambda t: t[0])
        if score <= best:
            break
        chosen.append(n)
        total += probs[n]
        best = score
    return chosen


def average_model(members: Mapping[int, keras.Model], image_size: int) -> keras.Model:
    """One Keras model whose output is the mean of ``members``' outputs (trial number -> model)."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    outputs = []
    for number, model in members.items():
        model.name = f"trial_{number}"  # nested models must have distinct names
        outputs.append(model(inputs))
    return keras.Model(inputs, keras.layers.Average(name="average")(outputs), name="ensemble")


def load_ensemble(
    config: StudyConfig, study: optuna.Study, data: PreparedData, size: int, build: Builder | None = None
) -> Retrained:
    """The ensemble of at most ``size`` trials (`select_members`) as one model; its best member
    is the ``trial`` of the result, its members in ``members``."""
    if len(study.directions) > 1:
        raise HpoError("--ensemble averages trials of a single-objective study — export one trial of the Pareto front")
    ranked = stored_trials(study)[:CANDIDATES]
    if not ranked:
        raise HpoError(
            f"study '{study.study_name}' has no complete trial with stored weights ([artifacts]) — "
            "export one trial by retraining (drop --ensemble)"
        )
    val_x, val_y = data.arrays("val")
    if len(val_y) == 0:
        raise HpoError("the val split is empty — --ensemble chooses its members on it")
    models: dict[int, keras.Model] = {}
    params: dict[int, dict[str, Any]] = {}
    epochs: dict[int, int] = {}
    probs: dict[int, np.ndarray] = {}
    for trial in ranked:
        models[trial.number], params[trial.number], stored = load_weights(config, study, data, trial, build)
        epochs[trial.number] = stored.epoch
        probs[trial.number] = np.asarray(models[trial.number].predict(val_x, batch_size=256, verbose=0))
    chosen = select_members(probs, val_y, size)
    val = _score(np.mean([probs[n] for n in chosen], axis=0), val_y)[0]
    log.info(
        "ensemble of trials %s: val accuracy %.4f (best trial alone %.4f)",
        chosen,
        val,
        _score(probs[chosen[0]], val_y)[0],
    )
    lead = next(t for t in ranked if t.number == chosen[0])
    model = average_model({n: models[n] for n in chosen}, data.image_size) if len(chosen) > 1 else models[chosen[0]]
    train_accuracy = inference_accuracy(model, *data.arrays("train"))
    family = family_name(config, build)
    return Retrained(
        model, params[lead.number], lead, epochs[lead.number], 0.0, train_accuracy, family, True, tuple(chosen), val
    )
