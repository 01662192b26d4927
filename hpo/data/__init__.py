"""Data: scan class folders, decode once, split, cache; `tf.data` pipelines over the cache.

The TensorFlow part lives in `hpo.data.pipeline` and is imported only when used.
"""

from hpo.data.prepare import PrepareResult, prepare
from hpo.data.prepared import ClassInfo, PreparedData, load_prepared
from hpo.data.scan import ANIMALS10_LABELS, display_label

__all__ = [
    "ANIMALS10_LABELS",
    "ClassInfo",
    "PrepareResult",
    "PreparedData",
    "display_label",
    "load_prepared",
    "prepare",
]
