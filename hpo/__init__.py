"""hpo: hyperparameter optimization for image classifiers (Optuna + Keras).

The public Python API (this list is the contract; see README, "Python API")::

    hpo.Study.from_file(path, *, storage=None, n_trials=None, timeout=None, build=None) -> Study
    hpo.Study.create(name, *, folder=".", build=None, **sections) -> Study
    Study.search(data=None, *, n_trials=None, timeout=None, verbose=False) -> optuna.Study
    Study.export(out=None, *, data=None, trial=None, epochs=None, tflite=False) -> Export
    Study.data(source=None) -> PreparedData        Study.best_trial() -> optuna FrozenTrial
    hpo.search(study_or_file, data=None, *, build=None, n_trials=None, timeout=None) -> optuna.Study
    hpo.export(study_or_file, out=None, *, data=None, build=None, trial=None, epochs=None) -> Export
    hpo.arrays(x_train, y_train, x_val, y_val, x_test=None, y_test=None, *, class_names=None) -> PreparedData
    hpo.load_model(export_dir) -> ExportedModel    ExportedModel.predict(uint8 images) -> probabilities
    hpo.Builder: build(trial, num_classes, image_size) -> keras.Model   (your own model)
    hpo.ExportMetrics, hpo.TrialRecord: the typed metrics.json and trial attributes
    hpo.HpoError (and hpo.errors.*): a user error, one line

Importing the package is cheap: nothing here imports TensorFlow or Optuna until a name is
used (PEP 562), so ``hpo --help`` stays instant.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from hpo.errors import HpoError

if TYPE_CHECKING:
    from hpo.api import Export, Study, export, search
    from hpo.data.prepared import PreparedData
    from hpo.data.prepared import from_arrays as arrays
    from hpo.model.builders import Builder
    from hpo.records.export import ExportMetrics
    from hpo.records.trial import TrialRecord
    from hpo.savedmodel.inference import ExportedModel
    from hpo.savedmodel.inference import load_exported as load_model

# TensorFlow's C++ INFO lines (oneDNN, CPU features) are noise for users; warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = [
    "Builder",
    "Export",
    "ExportMetrics",
    "ExportedModel",
    "HpoError",
    "PreparedData",
    "Study",
    "TrialRecord",
    "__version__",
    "arrays",
    "export",
    "load_model",
    "search",
]


def _version() -> str:
    """The installed distribution's version: pyproject.toml is the one place it is written."""
    from importlib import metadata

    try:
        return metadata.version("hpo-keras")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


__version__ = _version()

_LAZY = {
    "Study": ("hpo.api", "Study"),
    "Export": ("hpo.api", "Export"),
    "search": ("hpo.api", "search"),
    "export": ("hpo.api", "export"),
    "arrays": ("hpo.data.prepared", "from_arrays"),
    "PreparedData": ("hpo.data.prepared", "PreparedData"),
    "Builder": ("hpo.model.builders", "Builder"),
    "ExportedModel": ("hpo.savedmodel.inference", "ExportedModel"),
    "load_model": ("hpo.savedmodel.inference", "load_exported"),
    "ExportMetrics": ("hpo.records.export", "ExportMetrics"),
    "TrialRecord": ("hpo.records.trial", "TrialRecord"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hpo' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
