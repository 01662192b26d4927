"""Study files: valid ones load; every invalid case is one line naming the file and key."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from hpo.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    PrunerConfig,
    SamplerConfig,
    StudySection,
    TrainingConfig,
    load_config,
)
from hpo.config.space import Choice, FloatRange, IntRange, SearchSpace
from tests.helpers import ROOT, assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study


@pytest.mark.parametrize("name", ["demo", "cifar10-mini", "cifar10-mini-pareto", "animals10"])
def test_shipped_study_files_load(name: str) -> None:
    cfg = load_config(ROOT / "studies" / f"{name}.toml")
    assert cfg.study.name == name
    assert cfg.study.storage.startswith(("sqlite:///", "postgresql://"))
    assert cfg.training.max_epochs >= 1


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[data]\nsource = "imgs"\n')
    cfg = load_config(path)
    assert cfg.study.name == "s"
    assert cfg.study.storage == f"sqlite:///{tmp_path / 's.db'}"
    assert cfg.data.source == tmp_path / "imgs"
    assert cfg.data.prepared == tmp_path / "s" / "prepared-64px"
    assert cfg.pruner.type == "hyperband" and cfg.sampler.type == "tpe"


def test_ranges_choices_and_fixed_values(tmp_path: Path) -> None:
    search = {"depth": 3, "batch_size": [32, 64], "l1": 0, "l2": [1e-5, 1e-3], "dropout": 0.5}
    path = write_study(tmp_path, "x", tmp_path, study={"enqueue_baseline": False}, search=search)
    space = load_config(path).search
    assert space.depth == IntRange(3, 3)
    assert space.batch_size == Choice((32, 64))
    assert space.l1 is None
    assert space.l2 == FloatRange(1e-5, 1e-3, log=True)
    assert space.dropout == FloatRange(0.5, 0.5)


def test_cli_overrides_win(tmp_path: Path) -> None:
    cfg = load_config(write_study(tmp_path, "x", tmp_path)).with_overrides(n_trials=99, timeout=None)
    assert cfg.study.n_trials == 99 and cfg.study.timeout is None


BAD_CASES = [
    ({"search": {"dropuot": 0.5}}, "[search] dropuot: unknown key"),
    ({"training": {"max_epochs": "ten"}}, "[training] max_epochs: expected an integer"),
    ({"search": {"depth": [4, 2]}}, "[search] depth: min 4 > max 2"),
    ({"search": {"batch_size": [0, 32]}}, "[search] batch_size: must be 1..65536"),
    ({"search": {"dropout": [0.2, 1.0]}}, "[search] dropout: must lie within"),
    ({"search": {"learning_rate": [0, 0.1]}}, "[search] learning_rate: must lie within"),
    ({"search": {"optimizer": ["adam", "lion"]}}, "[search] optimizer: choose from"),
    ({"pruner": {"type": "oracle"}}, "[pruner] type: must be one of"),
    ({"study": {"n_trials": 0}}, "[study] n_trials: must be between"),
    ({"study": {"enqueue_baseline": "yes"}}, "[study] enqueue_baseline: expected true/false"),
    ({"study": {"max_train_val_gap": 1.5}}, "[study] max_train_val_gap: must be between"),
    ({"pruner": {"bootstrap_count": -1}}, "[pruner] bootstrap_count: must be between"),
    ({"training": {"bn_calibration_images": -5}}, "[training] bn_calibration_images: must be between"),
    ({"data": {"source": 7}}, "[data] source: expected a string"),
    ({"model": {"family": "resnet9"}}, "[model] family: must be one of cnn, mobilenet_v3_small"),
    ({"model": {"builder": "no_colon"}}, '[model] builder: expected "package.module:function"'),
    ({"model": {"builder": "a.b:c", "family": "cnn"}}, "[model] family: set family or builder, not both"),
    ({"model": {"weights": "none"}}, "[model] weights: only pretrained backbones use it"),
    ({"model": {"family": "mobilenet_v3_small", "weights": "random"}}, "[model] weights: must be one of imagenet"),
    ({"model": {"family": "efficientnet_v2_b0", "input_size": 16}}, "[model] input_size: must be between 32"),
    (
        {"model": {"family": "mobilenet_v3_small", "input_size": 32}, "search": {"depth": [1, 2]}},
        "[search] depth: not used by",
    ),
    ({"search": {"fine_tune_layers": [0, 3]}}, "[search] fine_tune_layers: not used by [model] cnn"),
    ({"model": {"family": "mobilenet_v3_small"}}, "[data] image_size: mobilenet_v3_small needs images of 32 px"),
    ({"model": {"builder": "a.b:c"}}, "[search] depth: not used by [model] a.b:c"),
    (
        {
            "model": {"family": "mobilenet_v3_small", "input_size": 32},
            "study": {"enqueue_baseline": True},
            "search": {"depth": None, "base_filters": None},
        },
        "[study] enqueue_baseline: the baseline preset is hpo's CNN",
    ),
    (
        {"search": {"batch_size": [64, 128]}},
        "[search] batch_size: excludes the baseline's value 32",
    ),
    ({"study": {"objectives": ["val_accuracy", "latency_ms"]}}, "[pruner] type: Optuna cannot prune multi-objective"),
    ({"study": {"objectives": ["latency_ms"]}}, "[study] objectives: use"),
]


@pytest.mark.parametrize(("sections", "message"), BAD_CASES)
def test_invalid_study_file_names_file_and_key(tmp_path: Path, sections: dict, message: str) -> None:
    path = write_study(tmp_path, "bad", tmp_path, **sections)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_unknown_section_and_bad_toml(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text('[data]\nsource = "x"\n[serach]\nlr = 1\n')
    with pytest.raises(ConfigError, match=r"\[top level\] serach: unknown key"):
        load_config(extra)
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_cli_reports_config_errors_on_one_line(tmp_path: Path) -> None:
    path = write_study(tmp_path, "bad", tmp_path, search={"depth": [4, 2]})
    assert_user_error(run_hpo("search", path), str(path), "[search] depth", "min 4 > max 2")
    assert_user_error(run_hpo("search", tmp_path / "nope.toml"), "study file not found")


def test_an_empty_study_file_gets_the_schema_defaults(tmp_path: Path) -> None:
    """The dataclasses in hpo/config/schema.py are the only place a default is written: a study
    file that sets nothing loads as exactly those defaults."""
    file = tmp_path / "empty.toml"
    file.write_text("")
    config = load_config(file)
    for loaded, cls in [
        (config.model, ModelConfig),
        (config.sampler, SamplerConfig),
        (config.pruner, PrunerConfig),
        (config.training, TrainingConfig),
        (config.search, SearchSpace),
    ]:
        assert loaded == cls(), cls.__name__
    for section, cls in [(config.study, StudySection), (config.data, DataConfig)]:
        for f in fields(cls):
            if f.default is not MISSING:
                assert getattr(section, f.name) == f.default, f"{cls.__name__}.{f.name}"
