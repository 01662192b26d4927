"""The Optuna study callbacks a study file asks for: ``[tracking] mlflow`` (optuna-integration's
`MLflowCallback`: one MLflow run per finished trial, in an experiment named after the study, with
its params, objective values and user attrs as tags) and ``[artifacts] keep_best``.

`MLflowCallback` is deprecated since optuna-integration 4.9 (to move to OptunaHub, removal planned
for 6.0): this module is the one place that uses it. MLflow is an optional extra; without it a
study that names an MLflow URI stops before any training with one line saying what to install.
A tracking server that fails later costs one warning line per trial, never the search. No
TensorFlow here.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial

from hpo.config import StudyConfig
from hpo.errors import HpoError
from hpo.study.artifacts import KeepBest, open_store
from hpo.workers.storage import mask_url

__all__ = ["MLFLOW_EXTRA", "StudyCallback", "mlflow_callback", "study_callbacks"]

log = logging.getLogger(__name__)
StudyCallback = Callable[[optuna.Study, FrozenTrial], None]
MLFLOW_EXTRA = "pip install 'hpo-keras[mlflow]'"


class _Guarded:
    """A tracking callback whose failures are logged (one line per trial), not raised."""

    def __init__(self, callback: StudyCallback, where: str) -> None:
        self.callback, self.where = callback, where

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        try:
            self.callback(study, trial)
        except Exception as exc:
            log.warning("trial %d not logged to %s (%s: %s)", trial.number, self.where, type(exc).__name__, exc)


def mlflow_callback(config: StudyConfig) -> StudyCallback | None:
    """``[tracking] mlflow`` as optuna-integration's `MLflowCallback`, its experiment opened now
    (a wrong URI fails here, before any training); None when the study names no URI."""
    uri = config.tracking.mlflow
    if uri is None:
        return None
    shown = mask_url(uri)
    try:
        import mlflow
    except ImportError:
        raise HpoError(f"[tracking] mlflow needs MLflow, an optional extra ({config.path}) — {MLFLOW_EXTRA}") from None
    try:
        from optuna_integration.mlflow import MLflowCallback
    except ImportError:  # deprecated in optuna-integration 4.9, to be removed in 6.0 (for OptunaHub)
        raise HpoError(f"[tracking] mlflow: this optuna-integration has no MLflowCallback ({config.path}) — "
                       "pip install 'optuna-integration<6'") from None  # fmt: skip
    if uri.startswith("file:"):  # MLflow 3 refuses its file store unless asked for it; the study file asks
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(config.study.name)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise HpoError(f"[tracking] mlflow {shown}: cannot open it ({first}) — check the URI ({config.path})") from None
    with warnings.catch_warnings():  # its deprecation notice (see above) is for Optuna's maintainers' plans
        warnings.simplefilter("ignore", FutureWarning)
        callback = MLflowCallback(tracking_uri=uri, metric_name=list(config.study.objectives))
    return _Guarded(callback, f"MLflow {shown}")


def study_callbacks(config: StudyConfig) -> list[StudyCallback]:
    """The callbacks for ``study.optimize`` that the study file asks for (none by default)."""
    callbacks: list[StudyCallback] = []
    if (mlflow := mlflow_callback(config)) is not None:
        callbacks.append(mlflow)
    store = open_store(config.artifacts.store)
    if store is not None and config.artifacts.keep_best:
        callbacks.append(_Guarded(KeepBest(store, config.artifacts.keep_best), f"[artifacts] {config.artifacts.store}"))
    return callbacks
