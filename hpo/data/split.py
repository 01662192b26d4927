"""Stratified, seeded train/val/test split that depends on image content, not file order.

Within each class, images are ranked by ``sha256(seed:content-hash)``; the first ``n_test``
go to test, the next ``n_val`` to val, the rest to train. The same files and seed always
give the same split, renaming or re-ordering files changes nothing, and adding an image
moves at most a few others.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

from hpo.errors import DataError

__all__ = ["SPLITS", "check_fractions", "split_counts", "stratified_split"]

SPLITS = ("train", "val", "test")


def check_fractions(val: float, test: float) -> None:
    """Reject fractions that cannot make a split (one line naming the value)."""
    for name, value in (("--val", val), ("--test", test)):
        if not (math.isfinite(value) and 0.0 <= value < 1.0):
            raise DataError(f"{name} must be a fraction in [0, 1), got {value}")
    if val + test >= 1.0:
        raise DataError(f"--val + --test must be below 1 to leave training images, got {val + test:g}")


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def split_counts(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, val, test) sizes for a class of ``n``; a non-zero fraction gets at least one."""
    n_val = max(1, _round_half_up(n * val)) if val > 0 else 0
    n_test = max(1, _round_half_up(n * test)) if test > 0 else 0
    return n - n_val - n_test, n_val, n_test


def stratified_split(by_class: Mapping[str, Sequence[str]], val: float, test: float, seed: int) -> dict[str, str]:
    """Map every content hash to ``"train"``, ``"val"`` or ``"test"``.

    ``by_class`` maps a class name to the content hashes (unique) of its usable images.
    """
    check_fractions(val, test)
    assignment: dict[str, str] = {}
    for class_name, hashes in by_class.items():
        n_train, n_val, n_test = split_counts(len(hashes), val, test)
        if n_train < 1:
            need = next(n for n in range(1, 10_000) if split_counts(n, val, test)[0] >= 1)
            raise DataError(
                f"class '{class_name}' has {len(hashes)} usable images, too few for "
                f"--val {val:g} --test {test:g} (needs at least {need}) — "
                "add images or lower the fractions"
            )
        ranked = sorted(hashes, key=lambda h: hashlib.sha256(f"{seed}:{h}".encode()).hexdigest())
        for i, h in enumerate(ranked):
            assignment[h] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return assignment
