"""Optuna's experimental APIs that hpo relies on (heartbeats and their retry callback,
`fail_stale_trials`, `set_metric_names`, the GCS artifact store): their `ExperimentalWarning`
is silenced here, once, where hpo calls them -- not for a user's own code."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna

__all__ = ["experimental"]


@contextmanager
def experimental() -> Iterator[None]:
    """Call an experimental Optuna API without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
