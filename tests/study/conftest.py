"""The searched study shared by tests/study/test_artifacts.py and tests/study/test_ensemble.py: one
real search on synthetic data (3 trials, 2 epochs: two complete, one pruned), with what each
trial's model predicted on the test split after every epoch. Both modules are in the xdist group
"artifacts", so one worker searches it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import hpo
from tests.helpers.studyfiles import write_study

PRUNED = 2  # the trial a user's Keras callback prunes after its first epoch


class TestPredictions(keras.callbacks.Callback):
    """What the model being trained says about the test images after every epoch, per fit."""

    __test__ = False  # not a pytest class

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        self.images = images
        self.fits: list[dict[int, np.ndarray]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.fits.append({})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.fits[-1][epoch + 1] = np.asarray(self.model.predict(self.images, verbose=0))


class PruneThirdFit(keras.callbacks.Callback):
    """A user's own pruning rule: the third trial stops after its first epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.fit = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.fit += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.fit == PRUNED + 1:
            raise optuna.TrialPruned()


@pytest.fixture(scope="package")
def art(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The searched study, what each trial's model predicted per epoch, and the trial order."""
    tmp = tmp_path_factory.mktemp("art")
    toml = write_study(
        tmp, "art", synth_dir,
        study={"n_trials": 3}, training={"max_epochs": 2}, pruner={"type": "none"},
        tracking={"tensorboard": "runs", "mlflow": "file:mlruns"},
    )  # fmt: skip
    study = hpo.Study.from_file(toml)
    test_x, test_y = study.data().arrays("test")
    seen, finished = TestPredictions(test_x), []
    optuna_study = study.search(
        keras_callbacks=[seen, PruneThirdFit()], callbacks=[lambda s, t: finished.append(t.number)]
    )
    trials = {t.number: t for t in optuna_study.get_trials()}
    assert [trials[n].state for n in finished] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    return {"toml": toml, "dir": tmp, "study": study, "trials": trials, "test": (test_x, test_y),
            "predicted": dict(zip(finished, seen.fits, strict=True))}  # fmt: skip
