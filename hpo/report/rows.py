"""A study's trials read in one pass of plain SQL on Optuna's own tables, for `hpo trials` and
`hpo best` on big studies: Optuna's ``get_all_trials`` builds an ORM object per row, which costs
seconds per thousand trials. The rows come from Optuna's models and conversions
(``optuna.storages._rdb.models``), so stored infinities and distributions read as Optuna reads
them. Storages that are not SQL (the proxy, a journal) are read through Optuna as before."""

from __future__ import annotations

import json
from collections.abc import Container
from functools import lru_cache
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.storages import RDBStorage
from optuna.storages._rdb import models as m
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import select

__all__ = ["read_trials"]

_CONSTRAINTS = "constraints"  # the system attribute Optuna keeps a trial's constraints under


@lru_cache(maxsize=256)
def _distribution(text: str) -> BaseDistribution:
    return json_to_distribution(text)


def _rdb(study: optuna.Study) -> RDBStorage | None:
    storage = study._storage
    storage = getattr(storage, "_backend", storage)  # Optuna's cache in front of an RDBStorage
    return storage if isinstance(storage, RDBStorage) else None


def read_trials(study: optuna.Study, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
    """The study's trials (in ``states``), by number, as `FrozenTrial` objects."""
    storage = _rdb(study)
    if storage is None:
        return study.get_trials(deepcopy=False, states=states)
    t = m.TrialModel.__table__
    sid = study._study_id
    of_study = select(t.c.trial_id).where(t.c.study_id == sid).scalar_subquery()

    def rows(model: Any, *cols: str) -> list[Any]:
        table = model.__table__
        return list(conn.execute(select(*(table.c[c] for c in cols)).where(table.c.trial_id.in_(of_study))))

    with storage.engine.connect() as conn:
        trials = list(conn.execute(select(t.c.trial_id, t.c.number, t.c.state, t.c.datetime_start,
                                          t.c.datetime_complete).where(t.c.study_id == sid)))  # fmt: skip
        values, params, inter, user, system = (
            rows(m.TrialValueModel, "trial_id", "objective", "value", "value_type"),
            rows(m.TrialParamModel, "trial_id", "param_name", "param_value", "distribution_json"),
            rows(m.TrialIntermediateValueModel, "trial_id", "step", "intermediate_value", "intermediate_value_type"),
            rows(m.TrialUserAttributeModel, "trial_id", "key", "value_json"),
            rows(m.TrialSystemAttributeModel, "trial_id", "key", "value_json"),
        )
    by: dict[int, dict[str, Any]] = {
        r.trial_id: {"values": {}, "params": {}, "dists": {}, "inter": {}, "user": {}, "system": {}} for r in trials
    }
    for r in values:
        by[r.trial_id]["values"][r.objective] = m.TrialValueModel.stored_repr_to_value(r.value, r.value_type)
    for r in params:
        dist = _distribution(r.distribution_json)
        by[r.trial_id]["params"][r.param_name] = dist.to_external_repr(r.param_value)
        by[r.trial_id]["dists"][r.param_name] = dist
    for r in inter:
        value = m.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
            r.intermediate_value, r.intermediate_value_type
        )
        by[r.trial_id]["inter"][r.step] = value
    for r in user:
        by[r.trial_id]["user"][r.key] = json.loads(r.value_json)
    for r in system:
        if r.key == _CONSTRAINTS or r.key.startswith(_CONSTRAINTS + ":"):  # Optuna 5: one key a constraint
            by[r.trial_id]["system"][r.key] = json.loads(r.value_json)
    out = []
    for r in sorted(trials, key=lambda r: r.number):
        if states is not None and r.state not in states:
            continue
        d = by[r.trial_id]
        vals = [d["values"][k] for k in sorted(d["values"])] or None
        out.append(
            FrozenTrial(
                number=r.number,
                state=r.state,
                value=None,
                values=vals,
                datetime_start=r.datetime_start,
                datetime_complete=r.datetime_complete,
                params=d["params"],
                distributions=d["dists"],
                user_attrs=d["user"],
                system_attrs=d["system"],
                intermediate_values=d["inter"],
                trial_id=r.trial_id,
            )
        )
    return out
