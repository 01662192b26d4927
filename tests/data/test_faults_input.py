"""Odd input, tried for real: a FIFO, a link to ``/dev/zero`` and an oversized file named like
an image (`prepare`, `predict`), a study file nested 1,000 deep, and a read-only study folder
(a read-only bind mount: root ignores ``chmod``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hpo.data.synth import synth_dataset
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.faultkit import read_only
from tests.helpers.studyfiles import write_study


def _odd_files(folder: Path) -> dict[str, str]:
    """A FIFO, a link to /dev/zero and a sparse file over the size cap, named as images;
    their expected reasons."""
    from hpo.data import scan

    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    with (folder / "huge.png").open("wb") as fh:
        fh.truncate(getattr(scan, "MAX_FILE_BYTES", 1 << 30) + 1)  # sparse: no disk used
    return {
        "fifo.jpg": "not a regular file (a FIFO)",
        "zero.jpg": "not a regular file (a device)",
        "huge.png": "too large",
    }


def test_prepare_skips_fifos_devices_and_huge_files(tmp_path: Path) -> None:
    """Before: `prepare` blocked for ever opening the FIFO (and would hash /dev/zero for ever)."""
    synth_dataset(tmp_path / "src", classes=2, per_class=4, image_size=16)
    expected = _odd_files(tmp_path / "src" / "circle")
    proc = run_hpo("data", "prepare", tmp_path / "src", "--out", tmp_path / "prep", "--image-size", "16", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "prep" / "report.json").read_text())
    reasons = {s["path"].split("/")[-1]: s["reason"] for s in report["skipped"]}
    assert reasons.keys() == expected.keys(), reasons
    for name, reason in expected.items():
        assert reasons[name].startswith(reason), reasons
    assert report["used"] == 8
    assert "skipped 3 broken" in proc.stdout


@pytest.mark.slow
def test_predict_says_one_line_per_odd_file(searched: dict[str, Path], tmp_path: Path) -> None:
    expected = _odd_files(tmp_path)
    files = [tmp_path / name for name in expected]
    proc = run_hpo("predict", searched["out"], *files, "--no-progress", timeout=120)
    assert_user_error(proc, "none of the 3 files could be read as an image", sole=False)
    for name, reason in expected.items():
        assert f"hpo: cannot read {tmp_path / name}: {reason}" in proc.stderr


@pytest.mark.parametrize("kind", ["arrays", "tables"])
def test_a_study_file_nested_1000_deep_is_one_line(tmp_path: Path, kind: str) -> None:
    toml = tmp_path / "deep.toml"
    value = "[" * 1000 + "]" * 1000 if kind == "arrays" else "{a = " * 1000 + "1" + "}" * 1000
    toml.write_text(f'[study]\nname = "deep"\nx = {value}\n')
    assert_user_error(run_hpo("trials", toml), str(toml), "nested too deeply")


def test_a_read_only_study_folder_is_one_line(tmp_path: Path) -> None:
    """Before: an OSError traceback about ``.prepare-lock``."""
    synth_dataset(tmp_path / "src", classes=2, per_class=4, image_size=16)
    studies = tmp_path / "studies"
    studies.mkdir()
    toml = write_study(studies, "ro", tmp_path / "src")
    prepared = studies / "ro" / "prepared-16px"
    assert run_hpo("data", "prepare", tmp_path / "src", "--out", prepared, "--image-size", "16").returncode == 0
    with read_only(studies):
        proc = run_hpo("data", "prepare", tmp_path / "src", "--out", prepared, "--image-size", "16")
        assert_user_error(proc, f"{prepared} is read-only", "--data")
        proc = run_hpo("search", toml, "--no-progress")
        assert_user_error(proc, f"{prepared} is read-only", "--data", sole=False)
