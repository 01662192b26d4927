"""What hpo may replace: only what it wrote, recognised by the marker it left there.

- an export folder: its ``SHA256SUMS`` lists every file `hpo export` wrote (with ``metrics.json``
  among them); a file not listed, or no longer matching its checksum, is the user's;
- prepared data: ``.hpo-prepared``, written by `hpo data prepare` before any other file
  (`hpo.data.cache` says which names it writes beside it);
- a report: the ``generator`` tag at the top of the HTML file (`hpo.report.html`).

Every ``--out`` is also refused inside an export or prepared data (`owner_above`, after resolving
symbolic links): a folder written there would make it a folder of user files.
"""

from __future__ import annotations

import os
from pathlib import Path

from hpo.fsutil import CHECKSUMS_FILE, sha256_file, shown
from hpo.records.export import METRICS_FILE

__all__ = ["PREPARED_MARKER", "export_strangers", "is_export", "is_prepared", "listing", "owner_above"]

#: written first into a folder `hpo data prepare` fills; its presence makes the folder hpo's
PREPARED_MARKER = ".hpo-prepared"


def _checksums(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of ``folder/SHA256SUMS``; empty when there is none, it cannot be
    read, or it does not list a ``metrics.json`` (a user's own checksum file is not an export's)."""
    try:
        lines = (folder / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    sums = {rel: digest for digest, _, rel in (line.partition("  ") for line in lines) if rel}
    return sums if METRICS_FILE in sums else {}


def is_export(folder: Path) -> bool:
    return (folder / CHECKSUMS_FILE).is_file() and bool(_checksums(folder))


def is_prepared(folder: Path) -> bool:
    return (folder / PREPARED_MARKER).is_file()


def _entries(folder: Path) -> list[Path]:
    """Every file, link or other non-folder under ``folder``, links not followed."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        found += [base / n for n in filenames] + [base / n for n in dirnames if (base / n).is_symlink()]
    return sorted(found)


def export_strangers(folder: Path) -> list[str]:
    """Files under ``folder`` (relative paths) that `hpo export` did not write, or that changed
    since: [] for an untouched export, an empty folder, or one that does not exist."""
    if not folder.is_dir():
        return []
    sums = _checksums(folder)
    strangers = []
    for path in _entries(folder):
        rel = path.relative_to(folder).as_posix()
        if rel == CHECKSUMS_FILE and sums:
            continue
        try:
            ours = rel in sums and not path.is_symlink() and path.is_file() and sha256_file(path) == sums[rel]
        except OSError:  # unreadable: not shown to be ours
            ours = False
        if not ours:
            strangers.append(rel)
    return strangers


def owner_above(path: Path) -> str | None:
    """In words, the export or prepared data that ``path`` (symbolic links resolved) would be
    written inside, or None."""
    for folder in path.resolve().parents:
        if is_export(folder):
            return f"an hpo export ({shown(folder)})"
        if is_prepared(folder):
            return f"hpo's prepared data ({shown(folder)})"
    return None


def listing(names: list[str], most: int = 3) -> str:
    """``a, b, c and 4 more``: the first names of a list, escaped, for a one-line message."""
    head = ", ".join(shown(n) for n in names[:most])
    return head + (f" and {len(names) - most} more" if len(names) > most else "")
