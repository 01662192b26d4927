"""The study a command works on: its file, with the command line's overrides."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpo.config import StudyConfig

__all__ = ["study_config"]


def study_config(args: argparse.Namespace) -> StudyConfig:
    """``args.study`` loaded, with ``--storage`` (or ``$HPO_STORAGE_URL``), ``--n-trials`` and
    ``--timeout`` where the command has them; the storage URL is checked here, before any work,
    so a bad one is one line whether it came from the flag, the environment or the file."""
    from hpo.config import load_config
    from hpo.workers.url import parse_url, storage_override

    override = storage_override(getattr(args, "storage", None))
    config = load_config(args.study).with_overrides(
        storage=override, n_trials=getattr(args, "n_trials", None), timeout=getattr(args, "timeout", None)
    )
    if override is None:  # the study file's URL (an override was checked as it was read)
        parse_url(config.study.storage, f"{args.study}: [study] storage")
    return config
