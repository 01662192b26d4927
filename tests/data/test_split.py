from __future__ import annotations

import hashlib

import pytest

from hpo.data.split import split_counts, stratified_split
from hpo.errors import DataError


def _hashes(prefix: str, n: int) -> list[str]:
    return [hashlib.sha256(f"{prefix}{i}".encode()).hexdigest() for i in range(n)]


def test_counts_are_stratified_and_round_half_up() -> None:
    assert split_counts(600, 0.15, 0.15) == (420, 90, 90)
    assert split_counts(10, 0.15, 0.15) == (6, 2, 2)
    assert split_counts(3, 0.15, 0.15) == (1, 1, 1)
    assert split_counts(5, 0.0, 0.2) == (4, 0, 1)


def test_split_is_deterministic_and_order_independent() -> None:
    by_class = {"a": _hashes("a", 50), "b": _hashes("b", 30)}
    first = stratified_split(by_class, 0.2, 0.2, seed=3)
    shuffled = {"b": list(reversed(by_class["b"])), "a": by_class["a"][::-1]}
    assert stratified_split(shuffled, 0.2, 0.2, seed=3) == first
    assert stratified_split(by_class, 0.2, 0.2, seed=4) != first
    for cls, n in (("a", 50), ("b", 30)):
        got = [first[h] for h in by_class[cls]]
        assert (got.count("train"), got.count("val"), got.count("test")) == split_counts(n, 0.2, 0.2)


def test_adding_an_image_moves_few_others() -> None:
    base = _hashes("x", 100)
    before = stratified_split({"c": base}, 0.15, 0.15, seed=0)
    after = stratified_split({"c": [*base, *_hashes("new", 1)]}, 0.15, 0.15, seed=0)
    moved = sum(before[h] != after[h] for h in base)
    assert moved <= 2


@pytest.mark.parametrize(
    ("val", "test", "fragment"), [(1.5, 0.1, "--val"), (0.1, -0.1, "--test"), (0.5, 0.5, "below 1")]
)
def test_bad_fractions_name_the_flag(val: float, test: float, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        stratified_split({"a": _hashes("a", 10)}, val, test, seed=0)


def test_too_few_images_names_the_class() -> None:
    with pytest.raises(DataError, match=r"class 'tiny' has 2 usable images.*at least 3"):
        stratified_split({"tiny": _hashes("t", 2)}, 0.15, 0.15, seed=0)
