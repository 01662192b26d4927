"""`hpo compare`: exports side by side — test accuracy, train-test gap, size, latency."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HpoError, ModelFileError
from hpo.fsutil import read_json
from hpo.inference import load_exported

__all__ = ["compare_exports", "format_comparison"]


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


def _row(path: Path) -> dict[str, Any]:
    """The comparison row of one export, from its metrics.json (a one-line error if malformed)."""
    metrics_path = path / "metrics.json"
    if not metrics_path.is_file():
        raise HpoError(f"{metrics_path} is missing — point at folders written by `hpo export`")
    try:
        m = read_json(metrics_path)
        row = {"export": str(path), "study": str(m["study"]), "baseline": bool(m["baseline"])}
        row |= {k: int(m[k]) for k in ("trial", "param_count", "epochs")}
        row |= {k: float(m[k]) for k in ("test_accuracy", "train_accuracy", "train_test_gap")}
        row["size_mb"] = float(m["saved_model_size_mb"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{metrics_path} is unreadable or malformed ({exc!r}) — export the model again") from None
    return row


def compare_exports(paths: Sequence[Path], latency_runs: int = 50) -> list[dict[str, Any]]:
    rows = [_row(path) for path in paths]
    for row, ms in zip(rows, _latencies_ms(paths, latency_runs), strict=True):
        row["latency_ms"] = ms
    return rows


def format_comparison(rows: Sequence[dict[str, Any]]) -> str:
    head = f"{'export':<28}{'trial':>6}{'test acc':>10}{'train acc':>11}{'gap':>8}{'params':>11}{'MB':>7}{'ms/img':>8}"
    lines = [head]
    for r in rows:
        name = Path(r["export"]).name + (" (baseline)" if r["baseline"] else "")
        lines.append(
            f"{name[:27]:<28}{r['trial']:>6}{r['test_accuracy']:>10.4f}{r['train_accuracy']:>11.4f}"
            f"{r['train_test_gap']:>+8.3f}{r['param_count']:>11,}{r['size_mb']:>7.2f}{r['latency_ms']:>8.2f}"
        )
    if len(rows) >= 2:
        a, b = rows[0], rows[1]
        lines.append(
            f"{Path(a['export']).name} vs {Path(b['export']).name}: "
            f"{100 * (a['test_accuracy'] - b['test_accuracy']):+.1f} points test accuracy, "
            f"gap {a['train_test_gap']:+.3f} vs {b['train_test_gap']:+.3f}"
        )
    return "\n".join(lines)
