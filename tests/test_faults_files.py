"""A user's files are never replaced by an ``--out`` (issue 23, item 1), and what a user named is
printed escaped, a study file with a UTF-8 BOM reads, an ``--out`` through a symbolic link into an
export is refused (item 10). Real folders, the real CLI (``python -m hpo``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import optuna
import pytest

from hpo.config import load_config
from hpo.errors import OutputError
from hpo.fsutil import write_checksums
from hpo.savedmodel.export import check_export_out
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

USER_BYTES = b"the user's own bytes\n"


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what must not change."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def study(tmp_path: Path, synth_dir: Path) -> Path:
    """A study file whose Optuna study exists (no trial): commands get as far as their --out."""
    (tmp_path / "studies").mkdir()
    toml = write_study(tmp_path / "studies", "tiny", synth_dir)
    optuna.create_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'studies' / 'tiny.db'}")
    return toml


def _earlier_export(folder: Path) -> Path:
    """A folder as `hpo export` leaves it: its files, all listed in SHA256SUMS."""
    (folder / "saved_model" / "variables").mkdir(parents=True)
    (folder / "saved_model" / "assets").mkdir()
    (folder / "saved_model" / "saved_model.pb").write_bytes(b"pb")
    (folder / "saved_model" / "variables" / "variables.index").write_bytes(b"index")
    for name in ("model.keras", "labels.json", "preprocess.json", "metrics.json", "MODEL_CARD.md"):
        (folder / name).write_text(name)
    write_checksums(folder)
    return folder


def test_export_refuses_a_folder_holding_only_the_users_model_keras(study: Path, tmp_path: Path) -> None:
    mine = tmp_path / "m"
    mine.mkdir()
    (mine / "model.keras").write_bytes(USER_BYTES)
    proc = run_hpo("export", study, "--out", mine)
    assert_user_error(proc, f"--out {mine}", "not written by `hpo export` (model.keras)", "or move them")
    assert _tree(mine) == {"model.keras": USER_BYTES}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "studies"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("saved_model/assets/important.txt", "saved_model/assets/important.txt"),  # a file hpo never wrote
        ("model.keras", "model.keras"),  # one of hpo's names, but the user's bytes
    ],
)
def test_export_refuses_an_earlier_export_holding_a_users_file(
    study: Path, tmp_path: Path, change: str, named: str
) -> None:
    out = _earlier_export(tmp_path / "m")
    (out / change).write_bytes(USER_BYTES)
    before = _tree(out)
    proc = run_hpo("export", study, "--out", out)
    assert_user_error(proc, f"--out {out}", f"({named})", "name a new folder such as models/tiny, or move them")
    assert _tree(out) == before


def test_an_untouched_earlier_export_may_be_replaced(study: Path, tmp_path: Path) -> None:
    out = _earlier_export(tmp_path / "m")
    assert check_export_out(load_config(study), out) == out.resolve()
    (out / "saved_model" / "assets" / "important.txt").write_bytes(USER_BYTES)
    with pytest.raises(OutputError, match=r"\(saved_model/assets/important\.txt\)"):
        check_export_out(load_config(study), out)


@pytest.mark.parametrize("name", ["manifest.json", "report.json", "index.json", "images.npy"])
def test_prepare_refuses_a_folder_holding_a_users_file_of_an_hpo_name(
    synth_dir: Path, tmp_path: Path, name: str
) -> None:
    mine = tmp_path / "u"
    mine.mkdir()
    (mine / name).write_bytes(USER_BYTES)
    proc = run_hpo("data", "prepare", synth_dir, "--out", mine, "--image-size", "16", "--no-progress")
    assert_user_error(proc, f"--out {mine}", f"not written by `hpo data prepare` ({name})", "or move them")
    assert _tree(mine) == {name: USER_BYTES}  # not even a lock file left in it


def test_data_prepared_of_a_study_is_not_a_users_folder(study: Path, tmp_path: Path) -> None:
    mine = tmp_path / "u"
    mine.mkdir()
    (mine / "manifest.json").write_bytes(USER_BYTES)
    text = study.read_text().replace("[data]\n", f'[data]\nprepared = "{mine}"\n')
    study.write_text(text)
    proc = run_hpo("search", study, "--no-progress")
    assert_user_error(proc, "manifest.json", "or move them", sole=False)
    assert _tree(mine) == {"manifest.json": USER_BYTES}


def test_prepare_replaces_its_own_cache_but_not_with_a_users_file_beside_it(synth_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    args = ("data", "prepare", synth_dir, "--out", out, "--image-size", "16", "--no-progress")
    assert run_hpo(*args).returncode == 0
    assert run_hpo(*args).returncode == 0, "hpo's own cache is hpo's to update"
    (out / ".hpo-prepared").unlink()  # as an hpo before the marker left it: its manifest tells
    assert run_hpo(*args).returncode == 0
    assert (out / ".hpo-prepared").is_file()
    (out / "notes.txt").write_bytes(USER_BYTES)
    before = _tree(out)
    assert_user_error(run_hpo(*args), "(notes.txt)")
    assert _tree(out) == before


def test_report_refuses_to_overwrite_a_file_it_did_not_write(study: Path, tmp_path: Path) -> None:
    mine = tmp_path / "notes.html"
    mine.write_bytes(USER_BYTES)
    proc = run_hpo("report", study, "--out", mine)
    assert_user_error(proc, f"--out {mine}", "not a report written by `hpo report`")
    assert mine.read_bytes() == USER_BYTES
    mine.unlink()
    assert run_hpo("report", study, "--out", mine).returncode == 0
    first = mine.read_bytes()
    proc = run_hpo("report", study, "--out", mine)  # its own report: replaced
    assert proc.returncode == 0, proc.stderr
    assert mine.read_bytes() != USER_BYTES and mine.stat().st_size > len(first) // 2


def test_report_replaces_a_report_of_an_earlier_hpo(study: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.html"
    old.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>hpo report: tiny</title></head></html>")
    proc = run_hpo("report", study, "--out", old)
    assert proc.returncode == 0, proc.stderr
    assert "generator" in old.read_text()


@pytest.mark.parametrize("command", ["export", "prepare", "report"])
def test_an_out_through_a_symlinked_parent_into_an_export_is_refused(
    study: Path, synth_dir: Path, tmp_path: Path, command: str
) -> None:
    export = _earlier_export(tmp_path / "m")
    before = sorted(p.relative_to(export).as_posix() for p in export.rglob("*"))
    (tmp_path / "link").symlink_to(export)
    inner = tmp_path / "link" / ("inner.html" if command == "report" else "inner")
    args = {
        "export": ("export", study, "--out", inner),
        "prepare": ("data", "prepare", synth_dir, "--out", inner, "--image-size", "16"),
        "report": ("report", study, "--out", inner),
    }[command]
    assert_user_error(run_hpo(*args), f"--out {inner}", f"is inside an hpo export ({export})")
    assert sorted(p.relative_to(export).as_posix() for p in export.rglob("*")) == before


def test_an_out_inside_prepared_data_is_refused(synth_dir: Path, tmp_path: Path) -> None:
    prep = tmp_path / "prep"
    args = ("data", "prepare", synth_dir, "--image-size", "16", "--no-progress", "--out")
    assert run_hpo(*args, prep).returncode == 0
    assert_user_error(run_hpo(*args, prep / "again"), f"is inside hpo's prepared data ({prep})")


FORGED = "x\nhpo: error: forged line\x1b[2J.jpg"  # a newline and an ANSI "clear screen" in a file name


def test_names_with_control_characters_are_printed_escaped(synth_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(synth_dir / "circle", src / "circle")
    shutil.copytree(synth_dir / "square", src / "red\x1b[31m")
    shutil.copytree(synth_dir / "triangle", src / os.fsdecode(b"caf\xe9"))  # not UTF-8: kept as bytes
    (src / "circle" / FORGED).write_bytes(b"not an image")  # listed as skipped, with its name
    proc = run_hpo("data", "prepare", src, "--out", tmp_path / "out", "--image-size", "16", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert not any(line.startswith("hpo: error") for line in proc.stdout.splitlines())
    assert repr("red\x1b[31m") in proc.stdout and repr(os.fsdecode(b"caf\xe9")) in proc.stdout
    assert f"skipped {'circle/' + FORGED!r}: " in proc.stdout

    missing = tmp_path / "gone\x1b]0;owned\x07"
    assert_user_error(run_hpo("data", "prepare", missing, "--out", tmp_path / "o2"), repr(str(missing)))
    assert "\x1b" not in run_hpo("data", "prepare", missing, "--out", tmp_path / "o2").stderr


@pytest.mark.slow
def test_predict_prints_file_names_escaped(searched: dict[str, Path], synth_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "a\x1b[31m\nb.jpg"
    shutil.copy(synth_dir / "circle" / "0000.jpg", good)
    broken = tmp_path / FORGED
    broken.write_bytes(b"not an image")
    proc = run_hpo("predict", searched["out"], good, broken)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith(repr(str(good)) + "\t")
    assert f"hpo: cannot read {str(broken)!r}: " in proc.stderr
    assert not any(line.startswith("hpo: error") for line in proc.stderr.splitlines())


def test_a_study_file_with_a_utf8_bom_is_read(study: Path) -> None:
    study.write_bytes(b"\xef\xbb\xbf" + study.read_bytes())  # as Windows Notepad saves "UTF-8 with BOM"
    proc = run_hpo("trials", study)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["#", "state"]
