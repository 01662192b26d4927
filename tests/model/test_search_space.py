from __future__ import annotations

from dataclasses import fields

import optuna
from optuna.trial import FixedTrial

from hpo.config.space import DIMENSIONS, Choice, FloatRange, IntRange, SearchSpace
from hpo.model.space import BASELINE, baseline_mismatch, baseline_trial_params, suggest


def test_baseline_is_the_seed_network() -> None:
    assert BASELINE.filters() == [32, 64]
    assert (BASELINE.dense_units, BASELINE.dropout, BASELINE.batch_norm) == (128, 0.5, True)
    assert (BASELINE.optimizer, BASELINE.learning_rate, BASELINE.batch_size) == (
        "rmsprop",
        1e-3,
        32,
    )
    assert (BASELINE.l1, BASELINE.l2, BASELINE.lr_decay, BASELINE.augment) == (
        0.0,
        0.0,
        "none",
        0.0,
    )


def test_baseline_params_replay_to_the_baseline() -> None:
    space = SearchSpace()
    assert suggest(FixedTrial(baseline_trial_params(space)), space) == BASELINE


def test_sampled_params_lie_in_the_space_and_replay_exactly() -> None:
    space = SearchSpace(
        depth=IntRange(1, 3),
        batch_size=Choice((16, 64)),
        l1=None,
        l2=FloatRange(1e-5, 1e-3, log=True),
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_l2_off = seen_l2_on = False
    for _ in range(40):
        trial = study.ask()
        p = suggest(trial, space)
        assert 1 <= p.depth <= 3 and p.batch_size in (16, 64) and p.l1 == 0.0
        assert 1e-4 <= p.learning_rate <= 1e-2
        seen_l2_off |= p.l2 == 0.0
        seen_l2_on |= 1e-5 <= p.l2 <= 1e-3
        assert "l1_on" not in trial.params
        assert suggest(FixedTrial(trial.params), space) == p
        study.tell(trial, 0.0)
    assert seen_l2_off and seen_l2_on


def test_fixed_penalty_is_always_on_and_excludes_the_baseline() -> None:
    space = SearchSpace(l2=FloatRange(1e-4, 1e-4, log=True))
    trial = optuna.create_study().ask()
    assert suggest(trial, space).l2 == 1e-4 and "l2_on" not in trial.params
    assert baseline_mismatch(space) == "l2"
    assert baseline_mismatch(SearchSpace()) is None
    assert baseline_mismatch(SearchSpace(depth=IntRange(3, 4))) == "depth"


def test_weight_decay_only_for_adamw() -> None:
    space = SearchSpace(optimizer=Choice(("adamw",)))
    trial = optuna.create_study().ask()
    p = suggest(trial, space)
    assert p.optimizer == "adamw" and 1e-5 <= p.weight_decay <= 1e-2 and "weight_decay" in trial.params
    other = optuna.create_study().ask()
    q = suggest(other, SearchSpace(optimizer=Choice(("adam",))))
    assert q.weight_decay == 0.0 and "weight_decay" not in other.params
    assert suggest(FixedTrial(trial.params), space) == p


def test_every_dimension_is_declared_once() -> None:
    """`SearchSpace` has one field per entry of the dimension table, in the same order."""
    assert [f.name for f in fields(SearchSpace)] == list(DIMENSIONS)
