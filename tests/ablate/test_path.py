"""The ablation path as data: which parameters move together (read from `DIMENSIONS`), and the
greedy walk over measured values. No training here (tests/ablate/test_ablate.py trains)."""

from __future__ import annotations

import math

from hpo.ablate.path import Config, Measured, config_key, settings, walk
from hpo.ablate.table import format_table, rows, top_settings

SOURCE: Config = {"optimizer": "rmsprop", "dropout": 0.5, "l2_on": False, "learning_rate": 1e-3, "units": 8}
TARGET: Config = {
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "dropout": 0.2,
    "l2_on": True,
    "l2": 1e-5,
    "learning_rate": 1e-3,
    "units": 16,
}


def test_settings_group_conditions_and_switches_with_their_parent() -> None:
    got = settings(SOURCE, TARGET)
    assert got == {
        "l2": ("l2", "l2_on"),
        "dropout": ("dropout",),
        "optimizer": ("optimizer", "weight_decay"),
        "units": ("units",),  # not one of hpo's dimensions (a builder's own): a setting of its own
    }
    assert "learning_rate" not in got  # the target leaves it at the source's value: skipped
    assert settings(TARGET, SOURCE) == got  # and back: AdamW's weight decay leaves with AdamW


def test_walk_takes_the_largest_gain_first_and_reaches_the_target() -> None:
    gains = {"optimizer": 0.01, "dropout": 0.10, "l2": -0.02, "units": 0.04}
    groups = settings(SOURCE, TARGET)

    def lookup(config: Config, seed: int) -> Measured:
        took = [n for n, ps in groups.items() if all(config.get(p, None) == TARGET.get(p, None) for p in ps)]
        return 0.5 + sum(gains[n] for n in took) + 0.001 * seed

    path = walk(SOURCE, TARGET, [0, 1], lookup)
    assert path.complete and path.steps[-1].config == TARGET
    assert len(path.steps) - 1 == len(groups) <= 5  # one step per setting, fewer than the 6 differing params
    assert [s.changed for s in path.steps[1:]] == ["dropout", "units", "optimizer", "l2"]
    assert math.isclose(path.gain(1), 0.10) and math.isclose(path.gain(4), -0.02)
    assert math.isclose(path.steps[0].spread, math.sqrt(0.5e-6))
    for step in path.steps:  # a condition's parameter is present exactly when its parent's value is
        assert ("weight_decay" in step.config) == (step.config["optimizer"] == "adamw")
        assert ("l2" in step.config) == step.config["l2_on"]
    from hpo.ablate.store import Plan

    plan = Plan("baseline (trial 0)", SOURCE, 3, TARGET, [0, 1], 2)
    assert [r.setting for r in top_settings(plan, path)] == ["dropout", "units", "optimizer"]
    assert rows(plan, path)[3].change == "optimizer rmsprop → adamw, weight_decay — → 0.0001"
    assert "| 1 | dropout 0.5 → 0.2 | 0.6005 ± 0.0007 | +10.0 pt |" in format_table(plan, path)


def test_walk_stops_at_what_is_not_measured_and_skips_failed_candidates() -> None:
    groups = settings(SOURCE, TARGET)
    measured: dict[str, Measured] = {config_key(SOURCE): 0.5}
    path = walk(SOURCE, TARGET, [0], lambda c, s: measured.get(config_key(c), ...))
    assert len(path.steps) == 1 and len(path.missing) == len(groups)  # step 1: every candidate, one seed
    for config, _ in path.missing:
        failed = config.get("dropout") == 0.2  # the best candidate's training failed (NaN): not kept
        measured[config_key(config)] = None if failed else 0.6
    path = walk(SOURCE, TARGET, [0], lambda c, s: measured.get(config_key(c), ...))
    assert path.steps[1].changed == "l2" and not path.complete  # the first of the equal ones
    assert len(path.missing) == 3 and all(c["l2_on"] and c["l2"] == 1e-5 for c, _ in path.missing)


def test_the_model_card_names_the_three_largest_gains() -> None:
    from hpo.ablate.store import Plan
    from hpo.savedmodel.model_card import model_card
    from tests.records.test_records import _labels, _metrics

    gains = {"optimizer": 0.01, "dropout": 0.10, "l2": -0.02, "units": 0.04}
    groups = settings(SOURCE, TARGET)
    path = walk(
        SOURCE,
        TARGET,
        [7],
        lambda c, s: 0.5 + sum(g for n, g in gains.items() if c.get(groups[n][0]) == TARGET[groups[n][0]]),
    )
    plan = Plan("baseline (trial 0)", SOURCE, 7, TARGET, [7], 2)
    card = model_card(_metrics(), _labels(), (plan, path))
    mattered = card.split("## What mattered\n", 1)[1].split("\n\n", 2)[1].splitlines()
    assert mattered == ["1. dropout 0.5 → 0.2: +10.0 points", "2. units 8 → 16: +4.0 points",
                        "3. optimizer rmsprop → adamw, weight_decay — → 0.0001: +1.0 points"]  # fmt: skip
    assert "## What mattered" not in model_card(_metrics(), _labels())  # no ablation, no section
