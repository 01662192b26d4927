"""`hpo init`: the dataset survey, the defaults chosen from it, the written study file, the CLI."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from hpo.config import StudyConfig, load_config
from hpo.errors import DataError
from hpo.init.budget import EPOCH_OVERHEAD, FULL_TRAININGS, TrialCost, multiply_adds
from hpo.init.defaults import Defaults, choose_defaults
from hpo.init.headstart import RECIPE, flips_fit
from hpo.init.scaffold import dataset_name, format_defaults, render, source_text, study_name, write_study
from hpo.init.survey import Survey, survey
from hpo.init.templates import load_template, template_names
from hpo.init.timing import MAX_BATCHES, StepTiming
from hpo.model.space import BASELINE, CNNParams
from hpo.study.study import local_startup
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.imagefiles import write_odd_files

#: a machine like the one studies/cifar10-mini.toml was measured on: its preset's epoch (4,200
#: training + 900 validation + 512 calibration images) took 13.2 s, ~2.6 ms a training image
RECIPE_IMAGE_SECONDS = (13.2 - EPOCH_OVERHEAD) / (4200 + 1412 / 3)
SECONDS_PER_MAC = RECIPE_IMAGE_SECONDS / multiply_adds(RECIPE, 32, 10)


def _images(folder: Path, sizes: list[tuple[int, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        Image.new("RGB", size, (i * 40 % 256, 90, 160)).save(folder / f"{i}.jpg")


def _photos(root: Path, per_class: int = 3, classes: int = 2) -> Path:
    """``classes`` class folders of ``per_class`` landscape photos (short side 100..140 px)."""
    for c in range(classes):
        _images(root / f"class{c}", [(200, 100 + 20 * i) for i in range(per_class)])
    return root


def _synthetic(tmp_path: Path, side: int, per_class: int, classes: int = 10, names: list[str] | None = None) -> Survey:
    """A survey of ``classes`` folders of ``per_class`` square ``side`` px images (no files)."""
    names = names or [f"class{i}" for i in range(classes)]
    src = tmp_path / "data"
    counts = tuple((n, per_class) for n in names)
    sizes = ((side, side),) * min(len(names) * per_class, 300)
    return Survey(src, src, counts, 0, 0, len(sizes), (), sizes)


def _machine(speed: float = 1.0) -> Callable[[CNNParams, int], StepTiming]:
    """A timer for a machine ``speed`` times as fast as the one the recipe was measured on: each
    step costs its multiply-adds (no TensorFlow: these tests are about the rules)."""

    def timer(params: CNNParams, size: int) -> StepTiming:
        step = params.batch_size * multiply_adds(params, size, 10) * SECONDS_PER_MAC / speed
        return StepTiming(params, size, 4, step, 2.0 + step, 3.0, "CPU")

    return timer


def _study(tmp_path: Path, s: Survey, d: Defaults, template: str = "default") -> StudyConfig:
    """The study file written from ``d``, loaded: `load_config` checks the preset and the baseline
    against the ranges (`hpo.model.presets`, `baseline_mismatch`)."""
    out = tmp_path / "studies" / "s.toml"
    write_study(render(load_template(template), d, s, "s", out), out, force=True)
    return load_config(out)


def _assert_head_start(cfg: StudyConfig, d: Defaults) -> None:
    """The study enqueues the preset (the recipe scaled) after the baseline, every value in range."""
    assert cfg.study.enqueue_baseline and len(cfg.study.enqueue) == 1
    preset = cfg.study.enqueue[0]
    for key, value in d.preset.values().items():
        assert preset.get(key, value) == value, key  # l2 = 0 is the switch l2_on = false
    assert preset["l2_on"] is False
    recipe = {k: getattr(RECIPE, k) for k in ("convs", "head", "optimizer", "lr_decay", "label_smoothing", "dropout")}
    assert {k: preset[k] for k in recipe} == recipe


@pytest.mark.parametrize(
    ("side", "per_class", "depth", "crop", "batch"),
    [(16, 600, 2, 2, 64), (32, 600, 3, 4, 64), (64, 100, 4, 8, 16), (200, 3000, 4, 8, 64), (28, 30, 3, 4, 16)],
    ids=["16px", "cifar10-mini", "64px-1000-images", "photos-30000", "28px-300-images"],
)
def test_the_preset_scales_with_image_and_dataset_size(
    tmp_path: Path, side: int, per_class: int, depth: int, crop: int, batch: int
) -> None:
    s = _synthetic(tmp_path, side, per_class)
    d = choose_defaults(s, load_template("default"), timer=_machine())
    size = d.image_size.value
    p = d.preset.params
    assert (p.depth, p.crop, p.batch_size) == (depth, crop, batch)
    assert 4 <= size >> p.depth < 8  # the last feature map: >= 4 px, and one block more would go below
    assert p.learning_rate == pytest.approx(2e-3 * math.sqrt(batch / 64), rel=0.05)
    cfg = _study(tmp_path, s, d)
    _assert_head_start(cfg, d)
    assert cfg.study.timeout == 20 * 60
    assert cfg.search.crop.high == p.crop and cfg.search.depth.high == p.depth
    # the trial cap is never what ends the search: the cheapest trial, pruned at its first rung
    cost = TrialCost(d.timing, 10, *_train_and_eval(s)) if d.timing else None
    assert cost is not None
    cheapest = cost.trial(p.base_filters, 0) + d.min_resource.value * cost.epoch(p.base_filters) / 4
    assert d.n_trials.value * cheapest >= cfg.study.timeout
    assert cfg.pruner.min_resource == max(1, round(cfg.training.max_epochs / 10))
    assert format_defaults(d).count("\n") > 10


def _train_and_eval(s: Survey) -> tuple[int, int]:
    n = sum(c for _, c in s.counts)
    n_val = sum(max(1, round(0.15 * c)) for _, c in s.counts)
    n_train = n - n_val - (n_val if s.smallest[1] >= 7 else 0)
    return n_train, n_val + min(512, n_train)


def test_the_budget_sets_width_and_epochs_from_the_measured_cost(tmp_path: Path) -> None:
    s = _synthetic(tmp_path, 32, 600)  # cifar10-mini's shape: 4,200 training images
    t = load_template("default")
    # the machine and budget of studies/cifar10-mini.toml: its width (32) and ~its 30 epochs
    mini = choose_defaults(s, t, minutes=25, timer=_machine())
    assert (mini.preset.params.base_filters, mini.max_epochs.value) == (32, 27)
    assert "27 fit 1/4 of the budget" in mini.max_epochs.reason
    # the same data on a machine 3x slower: a narrower preset, not a shorter one
    slow = choose_defaults(s, t, minutes=25, timer=_machine(1 / 3))
    assert slow.preset.params.base_filters < 32 and slow.max_epochs.value >= 20
    # an hour on a fast machine: wider, the recipe's full 30 epochs
    ample = choose_defaults(s, t, minutes=60, timer=_machine(2))
    assert (ample.preset.params.base_filters, ample.max_epochs.value) == (48, 30)
    # a budget too small for anything: the narrowest, fewer epochs, and the comment says so
    tight = choose_defaults(s, t, minutes=1, timer=_machine())
    assert tight.preset.params.base_filters == 16 and tight.max_epochs.value == t.epochs[0]
    assert "raise --minutes" in tight.preset.reasons["base_filters"]
    for d in (mini, slow, ample):  # a full training of the preset fits 1/4 of the budget
        assert d.timing is not None
        cost = TrialCost(d.timing, 10, *_train_and_eval(s))
        assert cost.trial(d.preset.params.base_filters, d.max_epochs.value) <= d.timeout.value / FULL_TRAININGS
        _assert_head_start(_study(tmp_path, s, d), d)
    flags = choose_defaults(s, t, max_epochs=7, n_trials=9, timer=_machine())
    assert (flags.max_epochs.value, flags.n_trials.value) == (7, 9)


def test_flips_follow_the_class_names(tmp_path: Path) -> None:
    assert flips_fit(["cat", "dog", "bright_sky"])[0]
    for names in (["turn_left", "turn_right"], ["TurnLeft", "Stop"], ["links", "rechts"], list("0123456789")):
        on, why = flips_fit(names)
        assert not on and why.startswith("off:"), names
    cases = [(["left", "right"], None, False), (["cat", "dog"], False, False), (["7", "8"], True, True)]
    cases.append((["go\x1bleft\n", "stop"], None, False))  # a control character: the comment stays TOML
    for names, flag, on in cases:
        s = _synthetic(tmp_path, 32, 50, names=names)
        d = choose_defaults(s, load_template("default"), flip=flag)
        assert d.preset.params.flip is on
        cfg = _study(tmp_path, s, d)
        assert cfg.study.enqueue[0]["flip"] is on and cfg.search.flip.options == ((False, True) if on else (False,))


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
    assert BASELINE.batch_size in d.search["batch_size"] and d.preset.params.batch_size == 16
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
    # measured (BENCHMARKS.md, issue 25): start-up trials near the preset, an ensemble of 3 as the export
    assert (cfg.sampler.startup, local_startup(cfg), cfg.export.ensemble) == ("auto", True, 3)
    assert cfg.search.batch_size.options == tuple(d.search["batch_size"])
    _assert_head_start(cfg, d)
    assert cfg.study.timeout == 60 * load_template(template).minutes  # not timed: the template's budget
    assert "not timed (not asked for)" in out.read_text()


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
    proc = run_hpo("init", src, "--minutes", "0", "--out", tmp_path / "m.toml")  # argparse's usage error
    assert proc.returncode == 2 and "argument --minutes: must be between 1 and 100000, got 0" in proc.stderr
    proc = run_hpo("init", src, "--out", out, "--force", "--no-timing", "--no-flip", "--minutes", "7")
    assert proc.returncode == 0, proc.stderr
    cfg = load_config(out)
    assert (cfg.study.name, cfg.study.timeout, cfg.study.enqueue[0]["flip"]) == ("s", 420, False)
    assert "Timed:" not in proc.stdout


# cifar10-mini's chosen max_epochs (~25) costs minutes for the baseline trial alone on 2 CPUs, past the
# suite's budget: its study is written with --max-epochs 1 (every other value as chosen), then run as written
@pytest.mark.slow
@pytest.mark.parametrize(
    ("dataset", "flags", "image_size", "classes", "preset"),
    [
        ("animals10_sample", (), 64, "cane 10, cavallo 10", {"depth": 4, "crop": 8, "batch_size": 16}),
        ("cifar10_mini", ("--max-epochs", "1"), 32, "airplane 600, automobile 600", {"depth": 3, "batch_size": 64}),
    ],
    ids=["animals10-sample", "cifar10-mini"],
)
def test_init_times_the_preset_and_writes_a_study_that_searches_as_written(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    dataset: str,
    flags: tuple[str, ...],
    image_size: int,
    classes: str,
    preset: dict[str, int],
) -> None:
    src: Path = request.getfixturevalue(dataset)
    proc = run_hpo("init", src, *flags, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert classes in proc.stdout
    assert f"image_size = {image_size}:" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"Next: hpo search studies/{src.name}.toml")
    # the timing run: one warm-up step and 2..MAX_BATCHES timed ones, on this machine's CPU
    timed = re.search(r"Timed: (\d+) training steps of (\d+) images at (\d+) px on the CPU", proc.stdout)
    assert timed, proc.stdout
    assert 2 <= int(timed[1]) <= MAX_BATCHES and (int(timed[2]), int(timed[3])) == (preset["batch_size"], image_size)
    study = tmp_path / "studies" / f"{src.name}.toml"
    cfg = load_config(study)  # the preset and the baseline inside the ranges
    assert cfg.data.image_size == image_size
    assert cfg.study.timeout == 20 * 60 and cfg.study.n_trials >= 20
    assert {k: cfg.study.enqueue[0][k] for k in preset} == preset
    assert cfg.study.enqueue[0]["convs"] == 2 and cfg.study.enqueue[0]["flip"] is True
    proc = run_hpo("search", study, "--n-trials", "1", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Study {src.name}: 1/1 trials finished" in proc.stdout, proc.stdout


def test_a_failed_timing_run_still_writes_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The timing run trains a network: if that fails (out of memory, a TensorFlow error), the
    study is written with the template's budget and one line says why — no traceback."""
    import hpo.init.timing
    from hpo.cli import main

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError("cannot allocate 1.2 GiB")

    monkeypatch.setattr(hpo.init.timing, "time_network", out_of_memory)  # the fault, injected where it happens
    out = tmp_path / "s.toml"
    assert main(["init", str(_photos(tmp_path / "src")), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Timing run failed (MemoryError: cannot allocate 1.2 GiB)" in printed and "Timed:" not in printed
    config = load_config(out)
    assert config.study.timeout is not None and config.study.enqueue
    assert "the timing run failed" in out.read_text()
