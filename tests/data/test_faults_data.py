"""Faults in data preparation, tried for real: `hpo data prepare` SIGKILLed at each write step
(a real process, killed by the test hook in `hpo.fsutil.crash_point`), and datasets with
broken links, one class, or broken files that happen to be byte-identical."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpo.data import load_prepared, prepare
from hpo.data.cache import SCRATCH_FILES
from hpo.data.prepared import PreparedData
from hpo.errors import DataError
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.faultkit import crash_at

#: one saturated colour per class: a decoded row tells its own class
COLOURS = ((220, 30, 30), (30, 220, 30), (30, 30, 220))


def _write_image(src: Path, cls: int, name: str, seed: int) -> None:
    noise = np.random.default_rng(seed).integers(-20, 20, (24, 24, 3))  # every file unique
    (src / f"c{cls}").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.array(COLOURS[cls]) + noise, 0, 255).astype(np.uint8)).save(src / f"c{cls}" / name)


def _mismatched(data: PreparedData) -> int:
    """Rows whose pixels say another class than their label."""
    pixel_class = np.asarray(data.images, np.float64).mean(axis=(1, 2)).argmax(axis=1)
    names = [int(c.name[1:]) for c in data.classes]  # "c2" -> colour 2
    return int(np.sum(pixel_class != np.array(names)[data.labels]))


def _files(src: Path) -> set[str]:
    return {p.relative_to(src).as_posix() for p in src.rglob("*.png")}


def _prepare_cli(src: Path, out: Path, step: str | None = None) -> int:
    env = crash_at(step) if step else None
    proc = run_hpo("data", "prepare", src, "--out", out, "--image-size", "16", "--no-progress", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode


@pytest.mark.parametrize(
    ("step", "left"),
    [
        ("decoded", "old"),  # new rows decoded to scratch; nothing committed
        ("images-partial", "old"),  # half of the new images.npy written beside the old one
        ("images", "refused"),  # new images.npy in place, old manifest: detected by its hash
        ("index", "refused"),
        ("manifest", "new"),  # manifest.json commits the new cache
        ("report", "new"),
    ],
)
def test_sigkill_of_prepare_at_each_write_step(tmp_path: Path, step: str, left: str) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for cls in range(3):
        for i in range(20):
            _write_image(src, cls, f"{i:03d}.png", 100 * cls + i)
    prepare(src, out, image_size=16, progress=False)
    old_files = _files(src)
    for i in range(10):  # same row count, other rows: a stale manifest would fit the new images.npy
        (src / "c0" / f"{i:03d}.png").unlink()
        _write_image(src, 2, f"new{i:03d}.png", 1000 + i)
    new_files = _files(src)

    assert _prepare_cli(src, out, step) == -signal.SIGKILL
    try:
        data = load_prepared(out)
    except DataError as exc:
        assert left == "refused", exc
        assert "hpo data prepare" in str(exc)
    else:
        assert _mismatched(data) == 0
        assert {it["path"] for it in data.manifest["items"]} == (old_files if left == "old" else new_files)

    assert _prepare_cli(src, out) == 0  # the next prepare repairs whatever the crash left
    data = load_prepared(out)
    assert _mismatched(data) == 0 and len(data.labels) == 60
    assert {it["path"] for it in data.manifest["items"]} == new_files
    assert not [name for name in SCRATCH_FILES if (out / name).exists()]


def test_a_stale_manifest_is_refused_and_rebuilt(tmp_path: Path) -> None:
    """The crash of the issue, replayed by hand: new images.npy, previous manifest.json."""
    src, out = tmp_path / "src", tmp_path / "out"
    for i in range(8):
        _write_image(src, 0, f"{i}.png", i)
        _write_image(src, 1, f"{i}.png", 50 + i)
    prepare(src, out, image_size=16, val=0.25, test=0.25, progress=False)
    stale = (out / "manifest.json").read_bytes()
    (src / "c0" / "0.png").unlink()
    _write_image(src, 1, "extra.png", 99)
    prepare(src, out, image_size=16, val=0.25, test=0.25, progress=False)
    (out / "manifest.json").write_bytes(stale)
    with pytest.raises(DataError, match="not the file its manifest was written for"):
        load_prepared(out)
    again = prepare(src, out, image_size=16, val=0.25, test=0.25, progress=False)
    assert again.report["decoded"] == 16  # nothing of an unverified cache is reused
    assert _mismatched(load_prepared(out)) == 0

    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["images_sha256"]  # as written by an hpo before the hash (format 1)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="from an older hpo or incomplete"):
        load_prepared(out)
    assert prepare(src, out, image_size=16, val=0.25, test=0.25, progress=False).report["decoded"] == 16


def test_broken_and_looping_links_inside_the_dataset_are_skipped_with_a_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for cls in range(2):
        for i in range(6):
            _write_image(src, cls, f"{i}.png", 10 * cls + i)
    (src / "c0" / "dangling.png").symlink_to(tmp_path / "gone.png")
    (src / "c1" / "loop.png").symlink_to("loop.png")
    (src / "c1" / "good_link.png").symlink_to(src / "c0" / "0.png")  # a working link is a file like any other
    proc = run_hpo("data", "prepare", src, "--out", tmp_path / "out", "--image-size", "16", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons.keys() == {"c0/dangling.png", "c1/loop.png"}
    assert reasons["c0/dangling.png"].startswith("broken symbolic link")
    assert reasons["c1/loop.png"] == "symbolic link loop"
    assert report["used"] == 12 and report["duplicates"] == 1


def test_identical_broken_files_are_all_listed_as_skipped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for cls in range(3):
        for i in range(4):
            _write_image(src, cls, f"{i}.png", 10 * cls + i)
    full = (src / "c0" / "0.png").read_bytes()
    for cls in range(3):  # the same four broken files in every class: broken first, never "duplicates"
        folder = src / f"c{cls}"
        (folder / "empty.jpg").write_bytes(b"")
        (folder / "text.jpg").write_text("not an image\n")
        (folder / "truncated.png").write_bytes(full[: len(full) // 2])
        (folder / "header_only.png").write_bytes(full[:40])
        shutil.copy(src / "c0" / "1.png", folder / "copy.png")  # a real duplicate
    prepare(src, tmp_path / "out", image_size=16, progress=False)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["skipped"]) == 12 and all(s["reason"] for s in report["skipped"])
    assert {s["path"].split("/")[1] for s in report["skipped"]} == {
        "empty.jpg",
        "text.jpg",
        "truncated.png",
        "header_only.png",
    }
    assert report["duplicates"] == 3 and report["used"] == 12


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_src_or_out_as_a_broken_link_is_one_line(tmp_path: Path, kind: str) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone" if kind == "dangling" else link)
    assert_user_error(run_hpo("data", "prepare", link, "--out", tmp_path / "out"), str(link), "symbolic link")
    src = tmp_path / "src"
    for cls in range(2):
        for i in range(4):
            _write_image(src, cls, f"{i}.png", 10 * cls + i)
    if kind == "loop":
        assert_user_error(run_hpo("data", "prepare", src, "--out", link), "--out", "symbolic link loop")


def test_one_class_or_a_file_as_out_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(10):
        _write_image(src, 0, f"{i}.png", i)
    assert_user_error(run_hpo("data", "prepare", src, "--out", tmp_path / "out"), "only one class folder ('c0')")
    _write_image(src, 1, "0.png", 50)
    (tmp_path / "afile").write_text("mine")
    assert_user_error(run_hpo("data", "prepare", src, "--out", tmp_path / "afile"), "is a file")
    assert (tmp_path / "afile").read_text() == "mine"
    assert not os.path.exists(tmp_path / "out")
