"""hpo: hyperparameter optimization for image classifiers (Optuna + Keras).

Importing the package is cheap: nothing here imports TensorFlow. Heavy modules
(`hpo.data.pipeline`, the model and objective) import it when they are used.
"""

from hpo.errors import HpoError

__all__ = ["HpoError", "__version__"]
__version__ = "0.1.0"
