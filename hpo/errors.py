"""Every exception class hpo raises, in one place (as ``optuna/exceptions.py`` and
``keras_tuner/errors.py`` do).

Two families (after keras-tuner's FailedTrialError vs FatalError):

- `HpoError` and its subclasses are *user* errors: bad input, a missing file, an impossible
  setting. The CLI prints one line (``hpo: error: ...``) and exits with ``exit_code`` (2, 74
  for a full disk, or 75 for a database that may come back), never with a traceback.
- The others are signals inside hpo: a candidate that cannot be trained (`TrialFailed`: the
  trial is FAIL, the study goes on), an interrupted search, an undecodable file (skipped and
  counted), a figure that cannot be drawn (the report says why).

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "DecodeError",
    "DiskFull",
    "ExportError",
    "HpoError",
    "ModelFileError",
    "NoOptunaTables",
    "NoPlot",
    "OutputError",
    "SearchInterrupted",
    "StorageError",
    "StorageUnavailable",
    "TrialFailed",
    "WeightsUnavailable",
]


class HpoError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""

    exit_code = 2


class ConfigError(HpoError):
    """A study file (or the settings given to the Python API) is invalid; the message names
    the file and the key."""


class DataError(HpoError):
    """The dataset cannot be used as asked (missing folder, no classes, too few images)."""


class OutputError(HpoError):
    """An output folder would replace something that is not hpo's to replace (user files,
    the current folder, the study folder), or cannot be written."""


class ModelFileError(HpoError):
    """An export (SavedModel, TFLite, labels.json, preprocess.json) is missing, truncated or malformed."""


class ExportError(HpoError):
    """The written model does not behave like the trained one."""


class WeightsUnavailable(HpoError):
    """Pretrained weights (``keras.applications``, ImageNet) are neither cached nor downloadable."""


class StorageError(HpoError):
    """The storage URL is malformed or the database cannot be reached."""


class StorageUnavailable(StorageError):
    """The database server does not answer (down, restarting, unreachable): worth retrying
    later, so it exits 75 (EX_TEMPFAIL) where bad input exits 2 — a scheduler can restart
    on one and give up on the other."""

    exit_code = 75


class DiskFull(HpoError):
    """A write found no space left (ENOSPC, a disk quota, SQLite's "database or disk is
    full"). Exit 74 (EX_IOERR): nothing is wrong with the input, and running again once there
    is space goes on from the last thing written whole."""

    exit_code = 74


class NoOptunaTables(StorageError):
    """A read-only command found a database without Optuna's tables (it never creates them)."""


class TrialFailed(Exception):
    """This candidate cannot be trained (NaN loss, out of memory); the study goes on."""


class SearchInterrupted(Exception):
    """SIGINT/SIGTERM stopped the search; the interrupted trial is FAIL and its params re-queued."""

    def __init__(self, requeued: list[int]) -> None:
        super().__init__(f"interrupted; re-queued trials {requeued}" if requeued else "interrupted between trials")
        self.requeued = requeued


class DecodeError(Exception):
    """The file is not a usable image; ``str(exc)`` is the reason shown to the user."""


class NoPlot(Exception):
    """A figure can't be drawn; ``str(exc)`` says why, for the report's reader."""
