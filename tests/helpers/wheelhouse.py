"""Wheels of distributions that are installed here, repacked from their RECORD: the wheelhouse
that `python -m build` isolates from when there is no package index (PIP_NO_INDEX=1 +
PIP_FIND_LINKS), so the isolated build of tests/test_release.py runs offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

__all__ = ["repack"]


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(name: str, folder: Path) -> Path:
    """``folder``/NAME-VERSION-py3-none-any.whl from the installed files of pure-Python ``name``."""
    dist = metadata.distribution(name)
    info = next(f for f in dist.files or [] if f.name == "WHEEL").parent.as_posix()
    folder.mkdir(parents=True, exist_ok=True)
    normal = dist.metadata["Name"].replace("-", "_").lower()
    wheel = folder / f"{normal}-{dist.version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in dist.files or []:
            path = file.as_posix()
            if path.startswith("..") or "__pycache__" in path or path == f"{info}/RECORD":
                continue  # scripts outside site-packages, bytecode, the RECORD rewritten below
            data = Path(str(file.locate())).read_bytes()
            zf.writestr(path, data)
            records.append(f"{path},{_digest(data)},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel
