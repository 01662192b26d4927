"""`hpo data fetch animals10`: download Animals-10 from Kaggle with kagglehub (extra `kaggle`).

Never needed by the tests or the demo. Offline, or without kagglehub, it fails with one line
that says how to get the archive by hand.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from hpo.errors import DataError

__all__ = ["DATASETS", "fetch"]

DATASETS = {"animals10": "alessiocorrado99/animals10"}
_MANUAL = (
    "download the archive from https://www.kaggle.com/datasets/{handle} by hand "
    "and unzip it so that {out}/raw-img/<class>/ exists"
)


def fetch(name: str, out: Path) -> Path:
    """Download dataset ``name`` into ``out`` (or link it there from kagglehub's cache)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{name}' — known: {', '.join(DATASETS)}")
    handle = DATASETS[name]
    manual = _MANUAL.format(handle=handle, out=out)
    if (out / "raw-img").is_dir():
        return out
    try:
        import kagglehub
    except ImportError:
        raise DataError(f"kagglehub is not installed (pip install 'hpo-keras[kaggle]'), or {manual}") from None
    kwargs = {}
    if "output_dir" in inspect.signature(kagglehub.dataset_download).parameters:
        kwargs["output_dir"] = str(out)
    try:
        path = Path(kagglehub.dataset_download(handle, **kwargs))
    except Exception as exc:  # kagglehub raises many types for offline/credentials problems
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"download of {handle} failed ({first[:160]}) — {manual}") from None
    if path.resolve() != out.resolve():
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists() or out.is_symlink():
            raise DataError(f"{out} exists but holds no raw-img/ — remove it, or {manual}")
        os.symlink(path.resolve(), out, target_is_directory=True)
    return out
