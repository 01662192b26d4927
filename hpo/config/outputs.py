"""``[artifacts]``, ``[tracking]`` and ``[export]``: where a study keeps each trial's weights, where
else its trials are logged (TensorBoard, MLflow), and what a plain `hpo export` makes of them.
Relative paths are relative to the study file's folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hpo.config.schema import ARTIFACTS_FOLDER, ArtifactsConfig, ExportConfig, TrackingConfig
from hpo.config.table import Table

__all__ = ["artifacts_section", "export_section", "tracking_section"]

_STORES = 'use "file:DIR", "s3://BUCKET", "gs://BUCKET" or "none"'
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _path(base: Path, value: str) -> Path:
    return (base / Path(value).expanduser()).resolve()  # an absolute value stays itself


def _store(t: Table, base: Path, raw: str) -> str:
    """The store URL with a file store's folder made absolute; bucket URLs name a bucket alone."""
    if raw == "none":
        return raw
    if raw.startswith("file:"):
        folder = raw[len("file:") :]
        folder = folder[2:] if folder.startswith("///") else folder  # file:///abs -> /abs
        if not folder.strip():
            raise t.fail("store", f"file: names no folder — {_STORES}")
        return f"file:{_path(base, folder)}"
    for scheme in ("s3://", "gs://"):
        if raw.startswith(scheme):
            bucket = raw[len(scheme) :].rstrip("/")
            if not bucket or "/" in bucket:
                raise t.fail("store", f"{raw!r}: name the bucket alone ({scheme}BUCKET); Optuna's store keeps "
                                      "artifacts at its top level")  # fmt: skip
            return scheme + bucket
    raise t.fail("store", f"{_STORES}, got {raw!r}")


def artifacts_section(file: Path, base: Path, study_name: str, table: Any) -> ArtifactsConfig:
    """``[artifacts]``: by default a file store in the study's run folder, pruned trials' weights off."""
    t, d = Table(file, "artifacts", table), ArtifactsConfig()
    config = ArtifactsConfig(
        store=_store(t, base, t.get("store", str, f"file:{study_name}/{ARTIFACTS_FOLDER}")),
        pruned=t.get("pruned", bool, d.pruned),
        keep_best=t.number("keep_best", d.keep_best, 0, 1_000_000, integer=True),
    )
    t.done()
    return config


def _mlflow(t: Table, base: Path, raw: str | None) -> str | None:
    """An MLflow tracking URI; a relative ``file:`` folder or ``sqlite:///`` file is made absolute."""
    if raw is None:
        return None
    if not _URI.match(raw):
        raise t.fail("mlflow", f'use a tracking URI such as "sqlite:///mlflow.db", "file:mlruns" or '
                               f'"http://host:5000", got {raw!r}')  # fmt: skip
    if raw.startswith("file:") and not raw.startswith("file://"):
        return _path(base, raw[len("file:") :]).as_uri()
    if raw.startswith("sqlite:///") and not raw.startswith("sqlite:////"):
        return f"sqlite:///{_path(base, raw[len('sqlite:///') :])}"
    return raw


def tracking_section(file: Path, base: Path, table: Any) -> TrackingConfig:
    """``[tracking]``: both off unless named."""
    t, d = Table(file, "tracking", table), TrackingConfig()
    board = t.get("tensorboard", str, d.tensorboard)
    if board is not None and not board.strip():
        raise t.fail("tensorboard", 'name a folder, e.g. tensorboard = "runs"')
    config = TrackingConfig(
        tensorboard=_path(base, board) if board is not None else None,
        mlflow=_mlflow(t, base, t.get("mlflow", str, d.mlflow)),
    )
    t.done()
    return config


def export_section(file: Path, table: Any) -> ExportConfig:
    """``[export]``: ``ensemble`` = 0 (retrain the best trial) or the most members of an ensemble."""
    t = Table(file, "export", table)
    config = ExportConfig(ensemble=t.number("ensemble", ExportConfig.ensemble, 0, 100, integer=True))
    t.done()
    return config
