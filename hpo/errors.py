"""Exception classes.

`HpoError` is a *user* error: bad input, a missing file, an impossible setting.
The CLI prints it as one line (``hpo: error: ...``) and exits with status 2, never
with a traceback. Anything else that escapes is a bug and keeps its traceback.
"""

__all__ = ["DataError", "HpoError", "ModelFileError", "OutputError"]


class HpoError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""

    exit_code = 2


class DataError(HpoError):
    """The dataset cannot be used as asked (missing folder, no classes, too few images)."""


class OutputError(HpoError):
    """An output folder would replace something that is not hpo's to replace (user files,
    the current folder, the study folder), or cannot be written."""


class ModelFileError(HpoError):
    """An export (SavedModel, TFLite, labels.json, preprocess.json) is missing, truncated or malformed."""
