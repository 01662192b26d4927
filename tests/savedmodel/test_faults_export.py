"""`hpo export --out`: refused before any work when replacing it would lose something, and the
folder swap that survives a SIGKILL at any point (real processes, `hpo.fsutil.crash_point`)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.fsutil import recover_dir, replace_dir, temp_sibling
from tests.helpers import ROOT, assert_user_error, faultkit, run_hpo
from tests.helpers.studyfiles import write_study


@pytest.fixture
def study(tmp_path: Path, synth_dir: Path) -> Path:
    """A study file in its own folder; no search has run (the checks come first)."""
    (tmp_path / "studies").mkdir()
    return write_study(tmp_path / "studies", "tiny", synth_dir)


@pytest.mark.parametrize(
    ("out", "fragment"),
    [
        (".", "is the current folder"),
        ("/", "is the file-system root"),
        ("..", "contains the current folder"),
        ("{home}", "is your home folder"),
        ("{tmp}/studies", "is the study file's folder"),
        ("{tmp}/studies/tiny", "is the study's run folder"),
        ("{tmp}/studies/tiny/prepared-16px", "is the study's prepared data"),
        ("{synth}/circle/model", "is inside the dataset"),
        ("{tmp}/studies/tiny.toml", "is a file"),
        ("{tmp}/studies/tiny.toml/model", "is inside a file"),
        ("{tmp}/link", "is a symbolic link"),
    ],
)
def test_an_out_that_is_not_ours_to_replace_is_refused_before_any_work(
    study: Path, synth_dir: Path, tmp_path: Path, out: str, fragment: str
) -> None:
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    (tmp_path / "link").symlink_to(cwd)
    target = out.format(tmp=tmp_path, home=home, synth=synth_dir)
    proc = run_hpo("export", study, "--out", target, cwd=cwd, env={"HOME": str(home)})
    assert_user_error(proc, f"--out {target}", fragment, "name a new folder such as models/tiny")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "link", "studies", "work"]
    assert not (tmp_path / "studies" / "tiny").exists()  # nothing prepared, nothing trained


def test_a_folder_with_user_files_is_refused_and_left_intact(study: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "keep.txt").write_text("keep me")
    (mine / "sub" / "notes.md").write_text("and me")
    (mine / "metrics.json").write_text("{}")  # one export-like name does not make an export
    proc = run_hpo("export", study, "--out", mine)
    assert_user_error(
        proc, "holds files not written by `hpo export` (keep.txt, metrics.json, sub/notes.md)", "move them"
    )
    assert (mine / "keep.txt").read_text() == "keep me" and (mine / "sub" / "notes.md").read_text() == "and me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "studies"]  # no temp or lock left beside it


def _folder(path: Path, marker: str) -> Path:
    (path / "saved_model").mkdir(parents=True)
    (path / "metrics.json").write_text(marker)
    return path


def _replace_in_child(new: Path, dest: Path, crash_at: str, *, no_exchange: bool = False) -> int:
    """`replace_dir` in a real child process, SIGKILLed at ``crash_at``."""
    code = (
        "import sys; from pathlib import Path; import hpo.fsutil as f\n"
        + ("f._exchange = lambda a, b: False  # as on a system without renameat2\n" if no_exchange else "")
        + "f.replace_dir(Path(sys.argv[1]), Path(sys.argv[2]))\n"
    )
    env = {**faultkit.crash_at(crash_at), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code, str(new), str(dest)], env=env, cwd=ROOT).returncode


def test_replace_dir_swaps_in_one_step_and_removes_the_old_folder(tmp_path: Path) -> None:
    dest = _folder(tmp_path / "model", "old")
    new = _folder(temp_sibling(dest), "new")
    replace_dir(new, dest)
    assert (dest / "metrics.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


@pytest.mark.parametrize(("step", "no_exchange"), [("export-swapped", False), ("export-half-swapped", True)])
def test_a_swap_killed_midway_loses_neither_folder(tmp_path: Path, step: str, no_exchange: bool) -> None:
    dest = _folder(tmp_path / "model", "old")
    new = _folder(tmp_path / ".model.tmp-1", "new")
    assert _replace_in_child(new, dest, step, no_exchange=no_exchange) == -signal.SIGKILL
    names = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    # atomic exchange: the new folder is in place, the old one waits at .model.tmp-1 to be removed;
    # two renames: killed between them, the old folder is at .model.old-<pid> and there is no model/
    assert names == ([".model.old", ".model.tmp"] if no_exchange else [".model.tmp", "model"])
    removed = recover_dir(dest)  # what the next export does first, under its lock
    assert (dest / "metrics.json").read_text() == ("old" if no_exchange else "new")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in removed] == [".model.tmp-1"]
