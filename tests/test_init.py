"""`hpo init`: the dataset survey, the defaults chosen from it, the written study file, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hpo.config import load_config
from hpo.errors import DataError
from hpo.init.scaffold import choose_defaults, dataset_name, render, source_text, study_name, write_study
from hpo.init.survey import survey
from hpo.init.templates import load_template, template_names
from hpo.model.space import BASELINE
from tests.conftest import assert_user_error, run_hpo
from tests.imagefiles import write_odd_files


def _images(folder: Path, sizes: list[tuple[int, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        Image.new("RGB", size, (i * 40 % 256, 90, 160)).save(folder / f"{i}.jpg")


def _photos(root: Path, per_class: int = 3, classes: int = 2) -> Path:
    """``classes`` class folders of ``per_class`` landscape photos (short side 100..140 px)."""
    for c in range(classes):
        _images(root / f"class{c}", [(200, 100 + 20 * i) for i in range(per_class)])
    return root


def test_survey_counts_classes_sizes_broken_and_ignored_files(tmp_path: Path) -> None:
    _images(tmp_path / "raw-img" / "cats", [(200, 100), (90, 300), (64, 64)])
    odd = write_odd_files(tmp_path / "raw-img" / "odd")
    s = survey(tmp_path)
    assert s.root == (tmp_path / "raw-img").resolve()
    assert dict(s.counts) == {"cats": 3, "odd": len(odd)}
    # headers only: a truncated JPEG opens; `hpo data prepare` decodes it and lists it as broken
    assert set(s.broken) == {f"odd/{name}" for name, ok in odd.items() if not ok} - {"odd/truncated.jpg"}
    assert s.ignored == 3  # .DS_Store, Thumbs.db, notes.txt
    assert s.checked == s.total
    limited = survey(tmp_path, per_class=2)
    assert limited.checked == 4 and limited.total == s.total


def test_photos_are_capped_by_the_template_and_small_images_kept(tmp_path: Path) -> None:
    photos = survey(_photos(tmp_path / "photos"))
    assert photos.median_short_side == 120
    for name, cap in (("default", 64), ("gpu", 120)):
        assert choose_defaults(photos, load_template(name)).image_size.value == cap
    _images(tmp_path / "small" / "a", [(28, 28)] * 2)
    _images(tmp_path / "small" / "b", [(28, 28)] * 2)
    size = choose_defaults(survey(tmp_path / "small"), load_template("default")).image_size
    assert (size.value, "rounded to a multiple of 8" in size.reason) == (32, True)


def test_tiny_classes_keep_a_validation_image_and_drop_the_test_split(tmp_path: Path) -> None:
    s = survey(_photos(tmp_path / "src", per_class=2))
    d = choose_defaults(s, load_template("default"))
    assert (d.val.value, d.test.value) == (0.15, 0.0)
    assert BASELINE.batch_size in d.batch_size.value and min(d.batch_size.value) < BASELINE.batch_size
    for per_class, classes, problem in ((1, 2, "has 1 image"), (3, 1, "only one class folder")):
        with pytest.raises(DataError, match=problem):
            choose_defaults(survey(_photos(tmp_path / f"bad{per_class}", per_class, classes)), load_template("default"))


def test_the_pruner_fits_the_trial_budget(tmp_path: Path) -> None:
    s = survey(_photos(tmp_path / "src", per_class=40))
    t = load_template("default")
    assert choose_defaults(s, t, n_trials=100).pruner.value == "hyperband"
    assert choose_defaults(s, t, n_trials=8).pruner.value == "successive_halving"
    flags = choose_defaults(s, t, image_size=48, max_epochs=7, n_trials=8)
    assert (flags.image_size.value, flags.max_epochs.value, flags.n_trials.value) == (48, 7, 8)
    assert flags.max_epochs.reason == "set by --max-epochs"


@pytest.mark.parametrize("template", template_names())
def test_every_template_writes_a_valid_study_with_a_relative_source(tmp_path: Path, template: str) -> None:
    src = _photos(tmp_path / "data" / "my photos")
    s = survey(src)
    out = tmp_path / "studies" / "photos.toml"
    d = choose_defaults(s, load_template(template))
    write_study(render(load_template(template), d, s, study_name(out.stem), out), out)
    assert 'source = "../data/my photos"' in out.read_text()
    cfg = load_config(out)  # valid, and the baseline lies inside the [search] space
    assert cfg.data.source == src.resolve()
    assert (cfg.data.image_size, cfg.training.max_epochs, cfg.pruner.type) == (
        d.image_size.value,
        d.max_epochs.value,
        d.pruner.value,
    )
    assert cfg.training.mixed_precision is (template == "gpu")
    assert cfg.search.batch_size.options == d.batch_size.value


def test_names_and_paths() -> None:
    assert study_name("my data (v2)") == "my-data-v2"
    assert study_name("__") == "study"
    assert dataset_name(Path("/x/animals10/raw-img")) == "animals10"
    assert source_text(Path("/work/shared/d"), Path("/work/main/studies")) == "../../shared/d"
    assert source_text(Path("/data/d"), Path("/work/studies")) == "/data/d"  # only the root in common


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    assert_user_error(run_hpo("init", tmp_path / "missing"), "dataset folder not found", "missing")
    src = _photos(tmp_path / "src")
    out = tmp_path / "s.toml"
    out.write_text("# mine\n")
    assert_user_error(run_hpo("init", src, "--out", out), f"{out} exists", "--force")
    assert out.read_text() == "# mine\n"
    assert_user_error(
        run_hpo("init", src, "--template", "tpu", "--out", tmp_path / "t.toml"),
        "no study template 'tpu'",
        "default, gpu",
    )
    proc = run_hpo("init", src, "--out", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert load_config(out).study.name == "s"


# cifar10-mini's chosen max_epochs (24) costs ~3.5 min for the baseline trial alone on 2 CPUs, past the
# suite's budget: its study is written with --max-epochs 1 (every other value as chosen), then run as written
@pytest.mark.slow
@pytest.mark.parametrize(
    ("dataset", "flags", "image_size", "classes"),
    [
        ("animals10_sample", (), 64, "cane 10, cavallo 10"),
        ("cifar10_mini", ("--max-epochs", "1"), 32, "airplane 600, automobile 600"),
    ],
    ids=["animals10-sample", "cifar10-mini"],
)
def test_init_writes_a_study_that_searches_as_written(
    request: pytest.FixtureRequest, tmp_path: Path, dataset: str, flags: tuple[str, ...], image_size: int, classes: str
) -> None:
    src: Path = request.getfixturevalue(dataset)
    proc = run_hpo("init", src, *flags, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert classes in proc.stdout
    assert f"image_size = {image_size}:" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"Next: hpo search studies/{src.name}.toml")
    study = tmp_path / "studies" / f"{src.name}.toml"
    assert load_config(study).data.image_size == image_size
    proc = run_hpo("search", study, "--n-trials", "1", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Study {src.name}: 1/1 trials finished" in proc.stdout, proc.stdout
