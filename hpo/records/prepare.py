"""``report.json`` of `hpo data prepare` (`hpo.data.prepare.PrepareResult.report`): what was
used, skipped and dropped, per class and split. Typed dicts: the file is plain JSON, and a
renamed key fails in mypy."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ClassCount", "Duplicate", "PrepareReport", "Skipped"]


class Skipped(TypedDict):
    path: str  # relative to the dataset folder
    reason: str


class Duplicate(TypedDict):
    path: str
    same_as: str  # the file kept with the same bytes


class ClassCount(TypedDict):
    name: str  # folder name
    label: str  # display label
    count: int
    train: int
    val: int
    test: int


class PrepareReport(TypedDict):
    source: str
    image_size: int
    used: int
    skipped: list[Skipped]
    ignored: int  # files that are not images by their name
    duplicates: int
    duplicate_paths: list[Duplicate]
    classes: list[ClassCount]
    splits: dict[str, int]
    decoded: int  # images decoded this time; the rest came from the cache
    reused: int
    images_rewritten: bool
    seconds: float
