"""`hpo dashboard`: optuna-dashboard on a study's storage (its Python API, in this process).

Bound to 127.0.0.1 unless a host is given: the dashboard has no authentication, so exposing
it beyond localhost is the user's explicit choice and gets a warning. Trials carry metric
names (``val_accuracy``), per-epoch intermediate values and user attrs (``baseline``,
``best_epoch``, ``param_count``, ...), which the dashboard shows, and each trial's stored
weights (``[artifacts]``) as a downloadable artifact.
"""

from __future__ import annotations

import logging

from hpo.errors import HpoError
from hpo.study.artifacts import open_store
from hpo.workers.process import ignore_signals, install_signal_handlers
from hpo.workers.storage import StorageUrl, make_storage, parse_url, require_study

__all__ = ["LOCALHOST", "serve"]

log = logging.getLogger(__name__)
LOCALHOST = "127.0.0.1"


def serve(
    location: StorageUrl | str, study_name: str | None, host: str | None, port: int, artifacts: str = "none"
) -> None:
    """Run the dashboard until Ctrl-C. ``study_name`` (if given) must exist in the storage.
    ``location`` may be the URL itself (docker-compose.yml and the Kubernetes dashboard pass
    ``$HPO_STORAGE_URL``); ``artifacts``: the study's ``[artifacts] store``, whose files the
    dashboard lists per trial."""
    if isinstance(location, str):
        location = parse_url(location)
    import optuna_dashboard

    if not 1 <= port <= 65535:
        raise HpoError(f"--port must be 1..65535, got {port}")
    # never creates a SQLite file (a typo would serve an empty one); a server database without
    # Optuna's tables gets them when no study is named, as optuna-dashboard itself does, so a
    # dashboard started before the first worker waits for studies instead of crashing
    storage = make_storage(location, create=study_name is None and not location.local)
    path = "/dashboard/"
    if study_name is not None:
        path = f"/dashboard/studies/{require_study(storage, study_name)}"
    if host is None:
        host = LOCALHOST
    elif host not in (LOCALHOST, "localhost", "::1"):
        log.warning(
            "the dashboard has no authentication; anyone who can reach %s:%d sees and edits studies", host, port
        )
    shown = f"[{host}]" if ":" in host else host
    print(f"optuna-dashboard for {location}: http://{shown}:{port}{path}  (Ctrl-C stops it)", flush=True)
    # Ctrl-C and SIGTERM stop it; sent again every second until it has stopped, as one interrupt can
    # be swallowed (raised in a weakref callback of SQLAlchemy's pool, say: seen twice in the suite)
    install_signal_handlers(repeat_s=1.0)
    try:
        store = open_store(artifacts)  # the dashboard lists, shows and serves each trial's artifacts
        optuna_dashboard.run_server(storage, host=host, port=port, artifact_store=store)  # returns on Ctrl-C
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise HpoError(f"cannot listen on {host}:{port} ({exc.strerror or exc}) — pick another --port") from None
    finally:
        ignore_signals()
    print("dashboard stopped", flush=True)
