"""`hpo compare`: exports side by side — test accuracy, train-test gap, size, latency."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo.records.export import ExportMetrics
from hpo.savedmodel.inference import load_exported

__all__ = ["Comparison", "compare_exports", "format_comparison"]


def _latencies_ms(paths: Sequence[Path], runs: int) -> list[float]:
    """Median single-image latency of each SavedModel, after warm-up.

    The models are timed in turns (one call each, round after round) rather than one after
    another, so a slow minute on a shared machine falls on all of them alike.
    """
    models = [load_exported(p) for p in paths]
    inputs = [
        np.random.default_rng(0).integers(0, 256, (1, m.image_size, m.image_size, 3)).astype(np.uint8) for m in models
    ]
    for model, x in zip(models, inputs, strict=True):
        for _ in range(10):
            model.predict(x)
    times: list[list[float]] = [[] for _ in models]
    for _ in range(runs):
        for model, x, t in zip(models, inputs, times, strict=True):
            t0 = time.perf_counter()
            model.predict(x)
            t.append((time.perf_counter() - t0) * 1e3)
    return [float(np.median(t)) for t in times]


@dataclass(frozen=True)
class Comparison:
    """One row of `hpo compare`: an export folder, its ``metrics.json`` and its median
    single-image latency in ms."""

    export: Path
    metrics: ExportMetrics
    latency_ms: float

    def to_json(self) -> dict[str, Any]:
        """The row as ``hpo compare --json`` prints it."""
        m = self.metrics
        return {
            "export": str(self.export),
            "study": m.study,
            "baseline": m.baseline,
            "trial": m.trial,
            "param_count": m.param_count,
            "epochs": m.epochs,
            "test_accuracy": m.test_accuracy,
            "train_accuracy": m.train_accuracy,
            "train_test_gap": m.train_test_gap,
            "size_mb": m.saved_model_size_mb,
            "latency_ms": self.latency_ms,
        }


def compare_exports(paths: Sequence[Path], latency_runs: int = 50) -> list[Comparison]:
    """Every export's metrics (a one-line `ModelFileError` for a missing or garbled one, before
    any model is loaded), then their latencies."""
    metrics = [ExportMetrics.load(path) for path in paths]
    latencies = _latencies_ms(paths, latency_runs)
    return [Comparison(p, m, ms) for p, m, ms in zip(paths, metrics, latencies, strict=True)]


def format_comparison(rows: Sequence[Comparison]) -> str:
    """The rows as a text table, then the first export against the second."""
    head = f"{'export':<28}{'trial':>6}{'test acc':>10}{'train acc':>11}{'gap':>8}{'params':>11}{'MB':>7}{'ms/img':>8}"
    lines = [head]
    for r in rows:
        m = r.metrics
        name = r.export.name + (" (baseline)" if m.baseline else "")
        lines.append(
            f"{name[:27]:<28}{m.trial:>6}{m.test_accuracy:>10.4f}{m.train_accuracy:>11.4f}"
            f"{m.train_test_gap:>+8.3f}{m.param_count:>11,}{m.saved_model_size_mb:>7.2f}{r.latency_ms:>8.2f}"
        )
    if len(rows) >= 2:
        a, b = rows[0], rows[1]
        lines.append(
            f"{a.export.name} vs {b.export.name}: "
            f"{100 * (a.metrics.test_accuracy - b.metrics.test_accuracy):+.1f} points test accuracy, "
            f"gap {a.metrics.train_test_gap:+.3f} vs {b.metrics.train_test_gap:+.3f}"
        )
    return "\n".join(lines)
