"""A study's own attributes: `ExportRecord`, where its latest export is (written by `hpo
export`, read by the report on any host)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import optuna

__all__ = ["EXPORT_ATTR", "ExportRecord"]

EXPORT_ATTR = "export"  # study user attr: the latest export's path and headline numbers


@dataclass(frozen=True)
class ExportRecord:
    """The study's `EXPORT_ATTR`: where its latest export is, and that export's headline numbers.

    ``path`` is relative to the study file's folder (``../models/NAME``, POSIX separators), so a
    report built on another host or from a copy of the database finds the export where the study
    file's checkout has it. Records written before this rule hold an absolute path, read as it is."""

    path: str
    trial: int
    test_accuracy: float
    epochs: int
    param_count: int

    def folder(self, study_dir: Path) -> Path:
        """The export folder, resolved against ``study_dir`` (an absolute ``path`` stays as it is)."""
        return study_dir / self.path

    def save(self, study: optuna.Study) -> None:
        """Record this export on ``study`` (for the report, on whichever host builds it)."""
        study.set_user_attr(EXPORT_ATTR, asdict(self))

    @classmethod
    def of(cls, study: optuna.Study) -> ExportRecord | None:
        """The study's record, or None when it has none (or one this version can't read)."""
        value = study.user_attrs.get(EXPORT_ATTR)
        if not isinstance(value, dict) or any(f.name not in value for f in fields(cls)):
            return None
        return cls(**{f.name: value[f.name] for f in fields(cls)})

    @staticmethod
    def unreadable(study: optuna.Study) -> str | None:
        """The study's export attribute when it is there but not a record this version reads."""
        value = study.user_attrs.get(EXPORT_ATTR)
        return repr(value) if value is not None and ExportRecord.of(study) is None else None
