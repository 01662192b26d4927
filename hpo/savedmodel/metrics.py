"""Classification metrics from labels and predictions (numpy only, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hpo.records.export import ClassificationReport, ClassScore

__all__ = ["classification_metrics", "format_metrics"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> ClassificationReport:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix
    (rows = true class, columns = predicted class, in ``labels`` order)."""
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    total = int(cm.sum())
    return ClassificationReport(
        accuracy=float(tp.sum() / total) if total else 0.0,
        n=total,
        per_class=tuple(
            ClassScore(labels[i], float(precision[i]), float(recall[i]), float(f1[i]), int(actual[i])) for i in range(k)
        ),
        macro_f1=float(f1[actual > 0].mean()) if (actual > 0).any() else 0.0,
        confusion_matrix=cm.tolist(),
    )


def format_metrics(m: ClassificationReport) -> str:
    """The report as a text table: one headline, then one row per class."""
    lines = [f"accuracy {m.accuracy:.4f} on {m.n} images (macro F1 {m.macro_f1:.4f})"]
    lines.append(f"  {'class':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>6}")
    for c in m.per_class:
        lines.append(f"  {c.label[:13]:<14}{c.precision:>10.3f}{c.recall:>8.3f}{c.f1:>8.3f}{c.support:>6}")
    return "\n".join(lines)
