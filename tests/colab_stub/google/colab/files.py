"""`files.download`: the browser download, recorded with the file's size."""

from __future__ import annotations

from pathlib import Path

from google.colab import record


def download(filename: str) -> None:
    record("files.download", filename=str(filename), size=Path(filename).stat().st_size)
