"""`hpo data prepare` on real files: the shared datasets, odd files, errors (via the CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hpo.data import load_prepared, prepare
from hpo.data.scan import ANIMALS10_LABELS
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.imagefiles import IGNORED_FILES, ODD_FILES, write_odd_files


def test_animals10_sample_via_cli(animals10_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "a10"
    proc = run_hpo("data", "prepare", animals10_sample, "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Prepared 100 images in 10 classes" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["used"] == 100
    assert report["skipped"] == [] and report["duplicates"] == 0
    assert {c["name"]: c["label"] for c in report["classes"]} == ANIMALS10_LABELS
    assert all(c["count"] == 10 for c in report["classes"])
    data = load_prepared(out)
    assert data.images.shape == (100, 64, 64, 3)
    assert [c.label for c in data.classes][:2] == ["dog", "horse"]


@pytest.mark.slow
def test_cifar10_mini_split_sizes_and_cache_reuse(cifar10_mini: Path, tmp_path: Path) -> None:
    out = tmp_path / "c32"
    first = prepare(cifar10_mini, out, image_size=32, progress=False)
    manifest_1 = (out / "manifest.json").read_bytes()
    images_1 = np.load(out / "images.npy")
    assert first.report["used"] == 6000 and first.report["decoded"] == 6000
    for c in first.report["classes"]:
        assert abs(c["train"] - 420) <= 1 and abs(c["val"] - 90) <= 1 and abs(c["test"] - 90) <= 1

    second = prepare(cifar10_mini, out, image_size=32, progress=False)
    assert (out / "manifest.json").read_bytes() == manifest_1
    assert second.report["decoded"] == 0 and second.report["reused"] == 6000
    assert second.report["images_rewritten"] is False
    np.testing.assert_array_equal(np.load(out / "images.npy"), images_1)

    items = json.loads(manifest_1)["items"]
    assert {"path", "class", "split", "sha256"} <= set(items[0])
    assert len({it["sha256"] for it in items}) == 6000


def test_odd_files_are_used_or_skipped_with_reason(synth_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_odd_files(src / "odd")
    write_odd_files(src / "odd" / "again")  # the same bytes again: duplicates, or broken twice
    shutil.copytree(synth_dir / "circle", src / "circle")  # a second class
    out = tmp_path / "out"
    proc = run_hpo("data", "prepare", src, "--out", out, "--image-size", "16", "--val", "0.1", "--test", "0.1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    good = [n for n, ok in ODD_FILES.items() if ok]
    bad = {f"odd/{d}{n}" for n, ok in ODD_FILES.items() if not ok for d in ("", "again/")}
    assert report["used"] == len(good) + 20  # odd/again holds duplicates of usable files only
    assert {s["path"] for s in report["skipped"]} == bad  # a broken file is broken first
    assert all(s["reason"] for s in report["skipped"])
    assert report["duplicates"] == len(good)
    assert report["ignored"] == 2 * len(IGNORED_FILES)
    assert "skipped odd/truncated.jpg: corrupt or truncated" in proc.stdout


def test_only_new_files_are_decoded_on_rerun(synth_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(synth_dir, src)
    out = tmp_path / "out"
    first = prepare(src, out, image_size=16, progress=False)
    (src / "extra").mkdir()
    for p in sorted((src / "circle").iterdir())[:5]:
        shutil.copy(p, src / "extra" / p.name)  # duplicates of circle images
    img = sorted((src / "square").iterdir())[0]
    (src / "extra" / "new.png").write_bytes(b"")  # broken
    from PIL import Image

    Image.open(img).rotate(90).save(src / "extra" / "fresh.png")
    Image.open(img).rotate(180).save(src / "extra" / "fresh2.png")
    Image.open(img).rotate(270).save(src / "extra" / "fresh3.png")
    second = prepare(src, out, image_size=16, progress=False)
    assert second.report["decoded"] == 4  # 3 fresh + 1 broken; duplicates are not decoded
    assert second.report["used"] == first.report["used"] + 3
    assert second.report["duplicates"] == 5
    data = load_prepared(out)
    assert data.images.shape[0] == second.report["used"]
    # row i of images.npy is item i of the manifest: compare one re-used row with a fresh decode
    from hpo.data.decode import decode_file

    row = next(i for i, it in enumerate(data.manifest["items"]) if it["path"] == "extra/fresh.png")
    np.testing.assert_array_equal(data.images[row], decode_file(src / "extra" / "fresh.png", 16))


def test_new_image_size_rebuilds_the_cache(synth_dir: Path, tmp_path: Path) -> None:
    prepare(synth_dir, tmp_path, image_size=16, progress=False)
    again = prepare(synth_dir, tmp_path, image_size=24, progress=False)
    assert again.report["decoded"] == again.report["used"]
    assert load_prepared(tmp_path).images.shape[1:] == (24, 24, 3)


@pytest.mark.parametrize(
    ("setup", "args", "fragments"),
    [
        ("none", [], ["dataset folder not found", "missing"]),
        ("empty", [], ["no class folders"]),
        ("empty_class", [], ["class folder 'ghost' has no usable image"]),
        ("ok", ["--val", "1.5"], ["--val", "1.5"]),
        ("ok", ["--image-size", "0"], ["--image-size"]),
        ("tiny_class", [], ["class 'tiny' has 2 usable images"]),
        ("ok", ["--out-inside"], ["inside the dataset folder"]),
    ],
)
def test_bad_input_is_one_line_exit_2(
    synth_dir: Path, tmp_path: Path, setup: str, args: list[str], fragments: list[str]
) -> None:
    src = tmp_path / "missing"
    if setup != "none":
        src = tmp_path / "src"
        src.mkdir()
    if setup in ("ok", "empty_class", "tiny_class"):
        shutil.copytree(synth_dir / "circle", src / "circle")
    if setup == "empty_class":
        (src / "ghost").mkdir()
        (src / "ghost" / "broken.jpg").write_text("nope")
    if setup == "tiny_class":
        (src / "tiny").mkdir()
        for p in sorted((synth_dir / "square").iterdir())[:2]:
            shutil.copy(p, src / "tiny" / p.name)
    out = src / "cache" if "--out-inside" in args else tmp_path / "out"
    args = [a for a in args if a != "--out-inside"]
    assert_user_error(run_hpo("data", "prepare", src, "--out", out, *args), *fragments)
