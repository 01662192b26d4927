"""Classification metrics from labels and predictions (numpy only, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_metrics", "format_metrics"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
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
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "n": total,
        "per_class": [
            {
                "label": labels[i],
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(actual[i]),
            }
            for i in range(k)
        ],
        "macro_f1": float(f1[actual > 0].mean()) if (actual > 0).any() else 0.0,
        "confusion_matrix": cm.tolist(),
    }


def format_metrics(m: dict[str, Any]) -> str:
    lines = [f"accuracy {m['accuracy']:.4f} on {m['n']} images (macro F1 {m['macro_f1']:.4f})"]
    lines.append(f"  {'class':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>6}")
    for c in m["per_class"]:
        p, r, f1 = c["precision"], c["recall"], c["f1"]
        lines.append(f"  {c['label'][:13]:<14}{p:>10.3f}{r:>8.3f}{f1:>8.3f}{c['support']:>6}")
    return "\n".join(lines)
