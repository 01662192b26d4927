"""Optuna's RDB heartbeat, with the two gaps a long multi-worker run falls into closed.

- A trial whose worker died *before its first heartbeat* (between Optuna creating the trial
  and the heartbeat thread's first write) has no heartbeat row, and Optuna's stale-trial check
  skips such trials: it would stay RUNNING forever and hold a slot of the cap. Here a RUNNING
  trial with no heartbeat is stale once it started more than ``grace_period`` s ago.
- Optuna's heartbeat thread ends on its first database error (a Postgres restart, a network
  blip), after which its healthy trial looks dead to every peer. Here a failed heartbeat is
  logged and tried again at the next interval.
- Optuna fails a stale trial without saying why. Here the trial's ``fail_reason`` names its
  silent worker, written in the same transaction that fails it (a FAIL trial's attributes
  can no longer be set). Its retry starts clean: what hpo recorded about the failed run
  (worker, reason, epochs) stays on the failed trial, only the baseline mark is copied.

Both hook into `RDBStorage`'s own heartbeat API (``record_heartbeat``, ``_get_stale_trial_ids``),
so `optuna.storages.fail_stale_trials` and `RetryHeartbeatStaleTrialCallback` work unchanged.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

import optuna
from optuna.exceptions import StorageInternalError
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

from hpo.records.trial import IDENTITY, TrialRecord
from hpo.workers.secrets import mask
from hpo.workers.url import StorageUrl

__all__ = ["FAIL_REASON", "HeartbeatStorage", "error_line", "retry_source"]

FAIL_REASON = "fail_reason"  # the user attr of `TrialRecord.fail_reason`
_RUN_ATTRS = frozenset(f.name for f in fields(TrialRecord)) - IDENTITY  # what one run of a trial records

log = logging.getLogger(__name__)


def error_line(exc: BaseException) -> str:
    """The first line of the database's own message, masked (`hpo.workers.secrets.mask`,
    before it is cut, so no half of a secret is left): Optuna's StorageInternalError says
    "invalid data in the commit" whatever happened, so its cause is what to show."""
    cause = exc.__cause__ if isinstance(exc, StorageInternalError) and exc.__cause__ else exc
    text = str(cause)
    details = getattr(cause, "details", None)  # a gRPC error (`hpo proxy`): its status and message
    if callable(details) and callable(getattr(cause, "code", None)):
        text = f"{getattr(cause.code(), 'name', 'gRPC')}: {details()}"  # type: ignore[attr-defined]
    return mask((text.strip().splitlines() or [type(cause).__name__])[0])[:240]


def retry_source(failed: FrozenTrial) -> FrozenTrial:
    """``failed`` as its retry should copy it (`RetryHeartbeatStaleTrialCallback` copies the
    user attrs): without what hpo recorded about the failed run — its worker (which would
    make the retry look like that worker's own), its reason, its epochs."""
    source = copy.copy(failed)
    source.user_attrs = {k: v for k, v in failed.user_attrs.items() if k not in _RUN_ATTRS}
    return source


class HeartbeatStorage(RDBStorage):
    """`RDBStorage` whose heartbeat survives database errors, whose stale-trial check covers
    trials that never sent a heartbeat, and whose stale trials say why they failed.
    ``location``: the URL it was opened with."""

    location: StorageUrl

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale_reasons: dict[int, str] = {}  # trial id -> why, from the last stale check

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:  # the thread must live on: the next beat may get through
            log.warning("heartbeat of trial id %d not recorded (%s); retrying next interval", trial_id, error_line(exc))

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        grace = timedelta(seconds=self.grace_period or 2 * (self.heartbeat_interval or 0))
        now = datetime.now()  # Optuna stamps datetime_start with the creating host's local time
        with self.scoped_session() as session:
            query = (
                session.query(models.TrialHeartbeatModel.trial_id)
                .join(models.TrialModel, models.TrialModel.trial_id == models.TrialHeartbeatModel.trial_id)
                .filter(models.TrialModel.study_id == study_id)
            )
            beating = {trial_id for (trial_id,) in query}
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            never_beat = trial._trial_id not in beating and trial.datetime_start is not None
            if never_beat and now - trial.datetime_start > grace and trial._trial_id not in stale:  # type: ignore[operator]
                stale.append(trial._trial_id)
        self._stale_reasons = {i: self._stale_reason(i, grace, i not in beating) for i in stale}
        return stale

    def _stale_reason(self, trial_id: int, grace: timedelta, never_beat: bool) -> str:
        secs = f"(grace_period {grace.total_seconds():.0f} s)"
        if never_beat:  # it died before the objective wrote its name
            return f"its worker sent no heartbeat {secs}: it died while starting the trial"
        worker = TrialRecord.of(self.get_trial(trial_id)).worker
        return f"worker {worker or '?'} stopped sending heartbeats {secs}: killed, paused or cut off from the storage"

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        """Optuna's, except that failing a trial the stale check found also records its
        ``fail_reason``, in the same transaction."""
        reason = self._stale_reasons.pop(trial_id, None)
        if reason is None or state != TrialState.FAIL or values is not None:
            return super().set_trial_state_values(trial_id, state, values)
        with _create_scoped_session(self.scoped_session) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            self.check_trial_is_updatable(trial_id, trial.state)  # its worker finished it meanwhile
            self._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, FAIL_REASON, reason)
            trial.state = state
            trial.datetime_complete = datetime.now()
        return True

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        retry = super().get_heartbeat_stale_trial_callback()
        if retry is None:
            return None
        return lambda study, failed: retry(study, retry_source(failed))
