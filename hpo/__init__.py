"""hpo: hyperparameter optimization for image classifiers (Optuna + Keras).

Importing the package is cheap: nothing here imports TensorFlow. Heavy modules
(`hpo.data.pipeline`, the model and objective) import it when they are used.
"""

import os

from hpo.errors import HpoError

# TensorFlow's C++ INFO lines (oneDNN, CPU features) are noise for users; warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["HpoError", "__version__"]
__version__ = "0.1.0"
