from __future__ import annotations

from pathlib import Path

from hpo.data.synth import synth_dataset
from tests.helpers import assert_user_error, run_hpo


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.jpg"))}


def test_synth_is_deterministic_and_class_foldered(tmp_path: Path) -> None:
    names = synth_dataset(tmp_path / "a", classes=3, per_class=4, image_size=24, seed=5)
    synth_dataset(tmp_path / "b", classes=3, per_class=4, image_size=24, seed=5)
    synth_dataset(tmp_path / "c", classes=3, per_class=4, image_size=24, seed=6)
    assert names == ["circle", "square", "triangle"]
    a = _bytes(tmp_path / "a")
    assert len(a) == 12 and a == _bytes(tmp_path / "b") and a != _bytes(tmp_path / "c")


def test_many_classes_get_unique_names(tmp_path: Path) -> None:
    names = synth_dataset(tmp_path, classes=12, per_class=1, image_size=8)
    assert len(set(names)) == 12


def test_synth_cli_rejects_bad_counts(tmp_path: Path) -> None:
    assert_user_error(run_hpo("data", "synth", tmp_path, "--classes", "1"), "--classes")
