"""Your own Keras model, searched by hpo: ``python examples/own_model.py`` (about a minute on 2 CPUs).

`build` is define-by-run, as in Optuna: it asks the trial for its hyperparameters and returns
an *uncompiled* model, so hpo compiles it with the searched optimizer, learning rate and
schedule (return a compiled model to keep your own). Data here is in-memory arrays; a class
folder or a prepared folder works the same (``study.search("path/to/images")``).

The same builder from a study file, for the CLI and for `hpo worker` processes::

    [model]
    builder = "own_model:build"     # importable from the study file's folder or the current one
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import optuna

import hpo


def build(trial: optuna.trial.BaseTrial, num_classes: int, image_size: int) -> keras.Model:
    """A small residual CNN whose width, depth and dropout the search picks."""
    width = trial.suggest_categorical("width", [16, 32])
    blocks = trial.suggest_int("blocks", 1, 2)
    inputs = keras.Input((image_size, image_size, 3))  # RGB, 0-255
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    for _ in range(blocks):
        y = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        y = keras.layers.Conv2D(width, 3, padding="same")(y)
        x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(trial.suggest_float("dropout", 0.0, 0.5))(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def bright_channel_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Toy data: the class is the colour channel that is bright."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 90, (n, 24, 24, 3))
    x[np.arange(n), :, :, y] += 120
    return x.astype(np.uint8), y


def main(folder: Path, n_trials: int = 6) -> hpo.Export:
    data = hpo.arrays(
        *bright_channel_images(240, 0),  # train
        *bright_channel_images(60, 1),  # val: what the search maximizes
        *bright_channel_images(60, 2),  # test: scored once, by the export
        class_names=["red", "green", "blue"],
    )
    study = hpo.Study.create(
        "own-model",
        folder=folder,  # the SQLite study file goes here
        build=build,
        study={"n_trials": n_trials},
        search={"learning_rate": [1e-3, 1e-2], "batch_size": [16, 32], "optimizer": ["adam", "rmsprop"]},
        training={"max_epochs": 4},
    )
    study.search(data)
    best = study.best_trial()
    print(f"best trial {best.number}: val accuracy {best.value:.3f}, params {best.params}")
    export = study.export(folder / "model")
    print(f"test accuracy {export.metrics.test_accuracy:.3f}; SavedModel in {export.saved_model}")
    probs = hpo.load_model(export.path).predict(bright_channel_images(3, 3)[0])
    print("predicted classes:", probs.argmax(1).tolist())
    return export


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="hpo-own-model-")))
