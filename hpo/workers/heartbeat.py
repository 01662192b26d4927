"""Optuna's RDB heartbeat, with the two gaps a long multi-worker run falls into closed.

- A trial whose worker died *before its first heartbeat* (between Optuna creating the trial
  and the heartbeat thread's first write) has no heartbeat row, and Optuna's stale-trial check
  skips such trials: it would stay RUNNING forever and hold a slot of the cap. Here a RUNNING
  trial with no heartbeat is stale once it started more than ``grace_period`` s ago.
- Optuna's heartbeat thread ends on its first database error (a Postgres restart, a network
  blip), after which its healthy trial looks dead to every peer. Here a failed heartbeat is
  logged and tried again at the next interval.

Both hook into `RDBStorage`'s own heartbeat API (``record_heartbeat``, ``_get_stale_trial_ids``),
so `optuna.storages.fail_stale_trials` and `RetryHeartbeatStaleTrialCallback` work unchanged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from optuna.exceptions import StorageInternalError
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.trial import TrialState

from hpo.workers.secrets import mask
from hpo.workers.url import StorageUrl

__all__ = ["HeartbeatStorage", "error_line"]

log = logging.getLogger(__name__)


def error_line(exc: BaseException) -> str:
    """The first line of the database's own message, masked (`hpo.workers.secrets.mask`,
    before it is cut, so no half of a secret is left): Optuna's StorageInternalError says
    "invalid data in the commit" whatever happened, so its cause is what to show."""
    cause = exc.__cause__ if isinstance(exc, StorageInternalError) and exc.__cause__ else exc
    return mask((str(cause).strip().splitlines() or [type(cause).__name__])[0])[:240]


class HeartbeatStorage(RDBStorage):
    """`RDBStorage` whose heartbeat survives database errors and whose stale-trial check
    covers trials that never sent a heartbeat. ``location``: the URL it was opened with."""

    location: StorageUrl

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
        return stale
