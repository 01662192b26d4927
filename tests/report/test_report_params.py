"""The report's reasons, in process on small in-memory studies: no section is ever empty without
saying why, and a switchable parameter's absence is named with its switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import FixedTrial, TrialState

from hpo.config import StudyConfig, load_config
from hpo.config.space import DIMENSIONS, SearchSpace
from hpo.model.space import suggest
from hpo.report.html import report_panels
from hpo.report.params import complete_trials, param_coverage
from tests.helpers.studyfiles import write_study


@pytest.fixture
def config(tmp_path: Path) -> StudyConfig:
    return load_config(write_study(tmp_path, "inmem", tmp_path))


def _study(config: StudyConfig, outcomes: list[float | None], fixed: dict[str, Any] | None = None) -> optuna.Study:
    """One trial per outcome (a val accuracy, or None: pruned after two epochs) from the study's
    search space, every trial with ``fixed`` params."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for value in outcomes:
        if fixed:
            study.enqueue_trial(fixed)
        trial = study.ask()
        suggest(trial, config.search)
        for epoch in range(2):
            trial.report(0.3 + 0.01 * epoch, epoch)
        study.tell(trial, value, state=TrialState.PRUNED if value is None else TrialState.COMPLETE)
    return study


def _reasons(study: optuna.Study, config: StudyConfig) -> dict[str, str]:
    return {p.title: p.why_not for p in report_panels(study, config) if p.figure is None}


def test_every_section_of_an_empty_study_says_why(config: StudyConfig) -> None:
    panels = report_panels(_study(config, []), config)
    assert panels and all(p.figure is None and p.why_not for p in panels), [(p.title, p.why_not) for p in panels]
    reasons = {p.title: p.why_not for p in panels}
    assert reasons["Optimization history"] == "needs 1 complete trial; the study has no trials yet"
    assert reasons["Exported model"] == "no export recorded for this study yet (`hpo export inmem.toml` writes one)"


def test_pruned_trials_draw_their_curves_and_name_what_the_rest_needs(config: StudyConfig) -> None:
    reasons = _reasons(_study(config, [None, None, 0.5]), config)
    assert "Learning curves" not in reasons and "Optimization history" not in reasons
    assert reasons["Hyperparameter importances"] == "needs 2 complete trials; the study has 1 complete, 2 pruned"
    assert reasons["Empirical distribution of val accuracy"].startswith("needs 2 complete trials")


def test_equal_accuracies_have_nothing_to_attribute(config: StudyConfig) -> None:
    reasons = _reasons(_study(config, [0.5, 0.5, 0.5]), config)
    expected = "all 3 complete trials have the same val accuracy: nothing to attribute"
    assert reasons["Hyperparameter importances"] == reasons["Contour of the two most important parameters"] == expected


def test_a_switched_off_parameter_is_named_with_its_switch(config: StudyConfig) -> None:
    study = _study(config, [0.4, 0.5, 0.6, None], fixed={"l2_on": False, "optimizer": "adam"})
    complete = complete_trials(study)
    assert param_coverage("l2", complete) == "l2: in no complete trial (switched off by l2_on in all 3)"
    assert param_coverage("weight_decay", complete) == (
        "weight_decay: in no complete trial (suggested only when optimizer is adamw; optimizer was adam in all 3)"
    )
    assert param_coverage("learning_rate", complete) is None
    slices = next(p for p in report_panels(study, config) if p.title == "Slices")
    assert slices.figure is not None and "l2" not in slices.note
    assert slices.left_out == ["l2: in no complete trial (switched off by l2_on in all 3)"]


def test_suggest_follows_the_dimension_table() -> None:
    """The table's conditions (``only_with``) and ``NAME_on`` switches are what `suggest` does."""
    base: dict[str, Any] = {"learning_rate": 1e-3, "batch_size": 32, "dropout": 0.1, "depth": 2, "base_filters": 32}
    base |= {"dense_units": 128, "batch_norm": True, "lr_decay": "none", "augment": 0.0, "head": "gap"}
    base |= {"convs": 1, "residual": False, "flip": False, "crop": 0}
    base |= {"label_smoothing": 0.0, "l1_on": False, "l2_on": False}
    conditions = {d.name: d.only_with for d in DIMENSIONS.values() if d.only_with is not None}
    assert conditions == {"weight_decay": ("optimizer", "adamw")}
    assert {d.name for d in DIMENSIONS.values() if d.switch} == {"l1", "l2"}
    for name, (gate, value) in conditions.items():
        on = FixedTrial({**base, gate: value, name: 1e-3})
        suggest(on, SearchSpace())
        assert name in on.params
        off = FixedTrial({**base, gate: "adam"})
        suggest(off, SearchSpace())
        assert name not in off.params
    switched = FixedTrial({**base, "optimizer": "adam"})
    suggest(switched, SearchSpace())
    assert {"l1", "l2"}.isdisjoint(switched.params) and {"l1_on", "l2_on"} <= set(switched.params)
