"""[[study.enqueue]] presets: checked against the study's space, enqueued once after the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpo.config import ConfigError, config_from_dict, load_config
from hpo.records.trial import TrialRecord
from hpo.study.study import open_study
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

SEARCH = {"optimizer": ["rmsprop", "adamw"], "depth": [1, 2], "l2": [1e-5, 1e-3], "crop": [0, 2]}
PRESET = {"depth": 2, "optimizer": "adamw", "weight_decay": 0.01, "learning_rate": 0.003, "flip": True, "crop": 2}


def _config(tmp_path: Path, *presets: dict[str, Any], **sections: dict[str, Any]) -> Any:
    doc: dict[str, Any] = {"study": {"name": "p", "enqueue": list(presets)}, "search": SEARCH, **sections}
    return config_from_dict(doc, tmp_path / "p.toml")


def test_presets_are_optuna_params_of_the_space(tmp_path: Path) -> None:
    config = _config(tmp_path, PRESET, {"l2": 0.0}, {"l2": 1e-4, "batch_size": 64})
    first, off, on = config.study.enqueue
    assert first == PRESET
    assert off == {"l2_on": False}
    assert on == {"l2_on": True, "l2": 1e-4, "batch_size": 64}
    assert isinstance(first["learning_rate"], float)


@pytest.mark.parametrize(
    ("preset", "fragments"),
    [
        ({"depht": 2}, ["#1 depht", "not a search dimension of [model] cnn"]),
        ({"depth": 5}, ["#1 depth", "5 is outside the study's range [1, 2]"]),
        ({"depth": 1.5}, ["#1 depth", "expected an integer"]),
        ({"optimizer": "sgd"}, ["#1 optimizer", "'sgd' is not one of the study's choices"]),
        ({"flip": 1}, ["#1 flip", "1 is not one of the study's choices"]),
        ({"weight_decay": 0.01}, ["#1 weight_decay", 'only with optimizer = "adamw" — add optimizer = "adamw"']),
        ({"l1": 0.5}, ["#1 l1", "0.5 is outside the study's range [1e-06, 0.001]"]),
        ({"fine_tune_layers": 3}, ["#1 fine_tune_layers", "not a search dimension of [model] cnn"]),
    ],
)
def test_a_preset_outside_the_space_is_a_one_line_error(
    tmp_path: Path, preset: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, {"depth": 1}, preset)  # the second preset is the bad one
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'p.toml'}: [[study.enqueue]] #2 ")
    for fragment in fragments:
        assert fragment.replace("#1", "#2") in message, (fragment, message)


def test_presets_are_for_hpos_dimensions_not_a_builder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[\[study.enqueue\]\]: presets name hpo's search dimensions"):
        config_from_dict(
            {"study": {"name": "p", "enqueue": [{"depth": 1}], "enqueue_baseline": False}, "model": {"builder": "m:f"}},
            tmp_path / "p.toml",
        )
    with pytest.raises(ConfigError, match=r"expected \[\[study.enqueue\]\] tables, got 3"):
        _config(tmp_path, 3)  # type: ignore[arg-type]


def test_presets_follow_the_baseline_once(tmp_path: Path) -> None:
    config = _config(tmp_path, study={"name": "p", "enqueue": [PRESET], "storage": f"sqlite:///{tmp_path}/p.db"})
    open_study(config)
    study = open_study(config)  # a second worker / a resumed search enqueues nothing more
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.WAITING] * 2
    assert TrialRecord.of(trials[0]).baseline and not TrialRecord.of(trials[1]).baseline
    assert trials[1].system_attrs["fixed_params"] == PRESET


@pytest.mark.slow
def test_search_trains_the_preset_as_trial_1(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(
        tmp_path, "preset", synth_dir, study={"n_trials": 3}, training={"max_epochs": 2}, search={"crop": [0, 2]}
    )
    lines = ["[[study.enqueue]]", 'optimizer = "adam"', "depth = 2", "base_filters = 8", "flip = true", "crop = 2"]
    toml.write_text(toml.read_text().replace("[data]", "\n".join(lines) + "\n\n[data]", 1))
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    cfg = load_config(toml)
    study = optuna.load_study(study_name="preset", storage=cfg.study.storage)
    trial = study.get_trials()[1]
    assert trial.state == TrialState.COMPLETE
    assert {k: trial.params[k] for k in ("optimizer", "depth", "base_filters", "flip", "crop")} == {
        "optimizer": "adam",
        "depth": 2,
        "base_filters": 8,
        "flip": True,
        "crop": 2,
    }
    assert "learning_rate" in trial.params  # what the preset leaves out is sampled

    bad = toml.read_text().replace("base_filters = 8", "base_filters = 12")
    toml.write_text(bad)
    assert_user_error(run_hpo("search", toml, "--no-progress"), "[[study.enqueue]] #1 base_filters", "12")
