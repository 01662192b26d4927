from __future__ import annotations

from pathlib import Path

import pytest

from hpo.data.scan import display_label, find_root, scan_dataset
from hpo.errors import DataError


def test_kaggle_layout_is_detected(tmp_path: Path) -> None:
    (tmp_path / "raw-img" / "cane").mkdir(parents=True)
    assert find_root(tmp_path) == tmp_path / "raw-img"
    assert find_root(tmp_path / "raw-img") == tmp_path / "raw-img"


def test_scan_matches_extensions_case_insensitively_and_counts_ignored(tmp_path: Path) -> None:
    cls = tmp_path / "cats" / "nested"
    cls.mkdir(parents=True)
    for name in ("a.JPG", "b.jpeg", "c.Png", "d.gif", "e.BMP", "f.webp"):
        (cls / name).write_bytes(b"x")
    for name in (".DS_Store", "Thumbs.db", "readme.txt", ".hidden.jpg"):
        (cls / name).write_bytes(b"x")
    (tmp_path / ".git").mkdir()  # hidden folder: not a class
    (tmp_path / "stray.jpg").write_bytes(b"x")  # file beside the classes: ignored
    scan = scan_dataset(tmp_path)
    assert scan.classes == ("cats",)
    assert [f.rel for f in scan.files] == [
        f"cats/nested/{n}" for n in ("a.JPG", "b.jpeg", "c.Png", "d.gif", "e.BMP", "f.webp")
    ]
    assert scan.ignored == 5


def test_animals10_folders_get_english_labels() -> None:
    assert display_label("scoiattolo") == "squirrel"
    assert display_label("airplane") == "airplane"


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_unusable_sources_are_data_errors(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "src"
    if kind == "file":
        src.write_text("x")
    elif kind == "empty":
        src.mkdir()
    with pytest.raises(DataError, match=str(src.name)):
        scan_dataset(src)
