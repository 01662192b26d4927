"""`survey(src)`: what a class-folder dataset holds (classes, counts, image sizes), for `hpo init`.

Reuses `hpo.data.scan` for the folders and reads image sizes from file headers only (Pillow's
lazy ``Image.open``, no decoding), on an evenly spaced sample of each class.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hpo.data.scan import ScannedFile, scan_dataset
from hpo.errors import DataError
from hpo.fsutil import shown

__all__ = ["EXAMPLES", "SAMPLE_PER_CLASS", "Survey", "format_survey", "survey"]

#: images per class whose header is read for the size statistics
SAMPLE_PER_CLASS = 300
#: readable images kept (spread over the classes) for `hpo init`'s timing run
EXAMPLES = 16


@dataclass(frozen=True)
class Survey:
    src: Path  # as given (the folder a study's [data] source names)
    root: Path  # the class folders' parent (``src/raw-img`` in Kaggle's layout)
    counts: tuple[tuple[str, int], ...]  # (class folder, image files), sorted by folder
    ignored: int  # hidden, system and non-image files
    unreadable_folders: int
    checked: int  # image headers read
    broken: tuple[str, ...]  # sampled files (relative paths) that Pillow cannot open
    sizes: tuple[tuple[int, int], ...]  # (width, height) of each readable sampled image
    examples: tuple[Path, ...] = ()  # up to EXAMPLES readable images, spread over the classes

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def smallest(self) -> tuple[str, int]:
        return min(self.counts, key=lambda c: (c[1], c[0]))

    @property
    def short_sides(self) -> list[int]:
        return sorted(min(w, h) for w, h in self.sizes)

    @property
    def median_short_side(self) -> int:
        return int(statistics.median_low(self.short_sides))

    @property
    def median_size(self) -> tuple[int, int]:
        return int(statistics.median_low(w for w, _ in self.sizes)), int(
            statistics.median_low(h for _, h in self.sizes)
        )


def _sample(files: list[ScannedFile], limit: int) -> list[ScannedFile]:
    """At most ``limit`` files, evenly spaced (deterministic: the scan is sorted)."""
    if len(files) <= limit:
        return files
    return [files[i * len(files) // limit] for i in range(limit)]


def _size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            width, height = image.size
            return int(width), int(height)
    except (OSError, UnidentifiedImageError, ValueError):
        return None  # truncated, not an image, a broken link: `hpo data prepare` lists why


def survey(src: Path, per_class: int = SAMPLE_PER_CLASS) -> Survey:
    """Scan ``src`` once and read the headers of up to ``per_class`` images per class."""
    scan = scan_dataset(src)
    by_class: dict[str, list[ScannedFile]] = {c: [] for c in scan.classes}
    for f in scan.files:
        by_class[f.class_name].append(f)
    sizes: list[tuple[int, int]] = []
    broken: list[str] = []
    examples: list[Path] = []
    checked = 0
    keep = -(-EXAMPLES // max(1, len(by_class)))  # per class
    for files in by_class.values():
        readable = 0
        for f in _sample(files, per_class):
            checked += 1
            size = _size(f.path)
            if size is None:
                broken.append(f.rel)
                continue
            sizes.append(size)
            readable += 1
            if readable <= keep and len(examples) < EXAMPLES:
                examples.append(f.path)
    if not sizes:
        raise DataError(f"no readable images in {scan.root} — expected {scan.root}/<class>/<image files>")
    counts = tuple((c, len(files)) for c, files in by_class.items())
    return Survey(
        src,
        scan.root,
        counts,
        scan.ignored,
        len(scan.unreadable),
        checked,
        tuple(broken),
        tuple(sizes),
        tuple(examples),
    )


def format_survey(s: Survey) -> str:
    """What `hpo init` prints about the dataset: classes with counts, total, sizes, problems."""
    where = f"{shown(s.src)} (Kaggle layout: classes in {s.root.name}/)" if s.root.name == "raw-img" else shown(s.src)
    classes = ", ".join(f"{shown(c)}\0{n:,}" for c, n in s.counts)  # \0: no line break inside "name count"
    sides = s.short_sides
    w, h = s.median_size
    counted = "all" if s.checked == s.total else f"a sample of {s.checked:,}"
    problems = f"{len(s.broken)} of {s.checked:,} headers unreadable" + (
        f" (e.g. {shown(s.broken[0])})" if s.broken else ""
    )
    if s.unreadable_folders:
        problems += f"; {s.unreadable_folders} folders cannot be listed"
    lines = [
        f"Dataset {where}",
        f"  {len(s.counts)} classes: " + textwrap.fill(classes, 96, subsequent_indent=" " * 4).replace("\0", " "),
        f"  {s.total:,} images (smallest class: {shown(s.smallest[0])}, {s.smallest[1]:,})",
        f"  image size ({counted}): median {w}x{h}; short side median {s.median_short_side} px, "
        f"min {sides[0]}, max {sides[-1]}",
        f"  broken: {problems} (the search's decoding skips the rest); ignored (not images, hidden): {s.ignored:,}",
    ]
    return "\n".join(lines)
