"""`hpo trials`: which trials, in which order, how many — and one JSON object a line for pipes.

The trials are read in one pass of SQL on an SQLite or Postgres study (`hpo.report.rows`);
sorting and the limit are applied to the rows."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpo.errors import HpoError

if TYPE_CHECKING:  # `hpo --help` builds this module's help without importing Optuna
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    from hpo.report.summary import TrialSummary

__all__ = ["SORT_KEYS", "TrialQuery", "json_lines", "parse_states"]

#: --sort KEY -> (what it orders by, and which way first); the best val accuracy first, the longest first
SORT_KEYS = {
    "number": "trial number, first to last",
    "val_accuracy": "val accuracy, best first (pruned trials by the best epoch they reached)",
    "seconds": "duration, longest first",
    "epochs": "epochs trained, most first",
}


def parse_states(raw: str | None) -> tuple[TrialState, ...] | None:
    """``"complete,pruned"`` -> those states; None -> every state; a bad name is one line."""
    from optuna.trial import TrialState

    if raw is None:
        return None
    names = [n.strip().upper() for n in raw.split(",") if n.strip()]
    known = {s.name: s for s in TrialState}
    aliases = {"FAILED": "FAIL"}
    bad = [n for n in names if aliases.get(n, n) not in known]
    if bad or not names:
        choices = ", ".join(s.name.lower() for s in TrialState)
        raise HpoError(f"--state {raw!r}: use one or more of {choices} (comma-separated)")
    return tuple(dict.fromkeys(known[aliases.get(n, n)] for n in names))


def _key(sort: str, row: TrialSummary) -> tuple[float, int]:
    values: dict[str, float | None] = {
        "number": -row["number"],
        "val_accuracy": row["val_accuracy"],
        "seconds": row["seconds"],
        "epochs": row["epochs"],
    }
    value = values[sort]
    if value is None or math.isnan(value):
        return (-math.inf, -row["number"])
    return (value, -row["number"])  # ties: the earlier trial first


@dataclass(frozen=True)
class TrialQuery:
    """``--state``, ``--sort`` and ``--limit`` of `hpo trials`."""

    states: tuple[TrialState, ...] | None = None
    sort: str = "number"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise HpoError(f"--sort {self.sort!r}: use one of {', '.join(SORT_KEYS)}")
        if self.limit is not None and self.limit < 1:
            raise HpoError(f"--limit must be at least 1, got {self.limit}")

    def trials(self, study: optuna.Study) -> list[FrozenTrial]:
        """The study's trials in these states (filtered by the storage), sorted, cut to the limit."""
        from hpo.report.rows import read_trials
        from hpo.report.summary import trial_record

        found = read_trials(study, self.states)
        if self.sort != "number":
            rows = {t.number: trial_record(t) for t in found}
            found = sorted(found, key=lambda t: _key(self.sort, rows[t.number]), reverse=True)
        return found[: self.limit] if self.limit is not None else found


def json_lines(trials: list[FrozenTrial]) -> Iterator[str]:
    """One JSON object per trial (`TrialSummary`), a line each: ``hpo trials X --json | jq ...``."""
    from hpo.report.summary import trial_record

    for t in trials:
        yield json.dumps(trial_record(t), default=str)
