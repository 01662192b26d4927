"""Each trial's weights as an Optuna artifact: the store named by ``[artifacts] store``, the upload,
the checked download an export uses, and pruning old ones. No TensorFlow here (the CLI and the
dashboard use it); `hpo.study.keep` takes the weights out of a training model.

The store is Optuna's own (`optuna.artifacts`): a file store (written whole: see `FileStore`),
or Optuna's Boto3 / GCS stores behind its `Backoff`. A trial's record (`StoredWeights`: artifact
id, SHA-256, size, epoch) is written in one step *after* the upload finished, so a worker killed
mid-upload leaves bytes that no record names; an export checks the SHA-256 before it trusts a file.

Optuna never changes a finished trial's attributes, so `prune_weights` marks what it removed on
the study (system attrs ``hpo:weights_removed:<id>``) and exports refuse those.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import optuna
from optuna.artifacts import Backoff, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import HpoError
from hpo.fsutil import crash_point, sha256_file
from hpo.records.trial import StoredWeights, TrialRecord, write
from hpo.study.study import accuracy, feasible
from hpo.workers.experimental import experimental

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

__all__ = [
    "FileStore",
    "KeepBest",
    "Pruned",
    "fetch_weights",
    "keep_set",
    "open_store",
    "prune_weights",
    "removed_ids",
    "stored_trials",
    "upload_weights",
]

log = logging.getLogger(__name__)
REMOVED_PREFIX = "hpo:weights_removed:"  # study system attr: an artifact `prune_weights` removed
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # Optuna's ids are UUIDs
_CHUNK = 1 << 20
_STALE_PART_SECONDS = 3600.0  # a .part file this old is no upload in progress


class FileStore:
    """Optuna's `FileSystemArtifactStore` contract (``open_reader``/``write``/``remove`` by id in one
    folder), with writes that land whole: the bytes go to ``.ID.part-PID``, are synced, and are
    renamed to ``ID`` once complete. A killed upload leaves a ``.part`` file, never a short ``ID``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, artifact_id: str) -> Path:
        if not _ID.fullmatch(artifact_id):
            raise ValueError(f"invalid artifact id {artifact_id!r}")
        return self.folder / artifact_id

    def open_reader(self, artifact_id: str) -> BinaryIO:
        try:
            return self._path(artifact_id).open("rb")
        except FileNotFoundError:
            raise ArtifactNotFound(f"{artifact_id} not found in {self.folder}") from None

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        path = self._path(artifact_id)
        part = path.with_name(f".{path.name}.part-{os.getpid()}")
        try:
            with part.open("wb") as out:
                for chunk in iter(lambda: content_body.read(_CHUNK), b""):
                    out.write(chunk)
                    out.flush()
                    crash_point("artifact-upload")  # fault tests: killed with part of the bytes written
                os.fsync(out.fileno())
            os.replace(part, path)
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def remove(self, artifact_id: str) -> None:
        try:
            self._path(artifact_id).unlink()
        except FileNotFoundError:
            raise ArtifactNotFound(f"{artifact_id} not found in {self.folder}") from None

    def stale_parts(self, older_than: float = _STALE_PART_SECONDS) -> list[Path]:
        """``.part`` files of uploads killed at least ``older_than`` seconds ago."""
        now = time.time()
        return [p for p in self.folder.glob(".*.part-*") if now - p.stat().st_mtime >= older_than]


def _cloud(url: str) -> ArtifactStore:
    scheme, bucket = url.split("://", 1)
    package = "boto3" if scheme == "s3" else "google-cloud-storage"
    try:
        if scheme == "s3":
            from optuna.artifacts import Boto3ArtifactStore

            return Backoff(Boto3ArtifactStore(bucket))
        from optuna.artifacts import GCSArtifactStore

        with experimental():  # experimental in Optuna since 3.4
            return Backoff(GCSArtifactStore(bucket))
    except ImportError:
        raise HpoError(f"[artifacts] store {url} needs the {package} package — pip install {package}") from None


def open_store(url: str, *, create: bool = False) -> ArtifactStore | None:
    """The store of an ``[artifacts] store`` URL (checked by the config); None for ``"none"``.
    ``create``: make a file store's folder (the workers do; readers never create one)."""
    if url == "none":
        return None
    if url.startswith("file:"):
        folder = Path(url[len("file:") :])
        if create:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HpoError(f"[artifacts] store {url}: cannot create it ({exc.strerror}) — name a folder "
                               "you can write") from None  # fmt: skip
        return FileStore(folder)
    return _cloud(url)


def upload_weights(trial: optuna.Trial, store: ArtifactStore, path: Path, epoch: int) -> StoredWeights:
    """Upload the weights file ``path`` as ``trial``'s artifact (Optuna's `upload_artifact`, which
    records its own metadata for the dashboard), then record `StoredWeights` on the trial."""
    record = StoredWeights("", sha256_file(path), path.stat().st_size, epoch)
    artifact_id = upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)
    crash_point("artifact-uploaded")  # fault tests: the file and Optuna's metadata exist, our record not
    record = StoredWeights(artifact_id, record.sha256, record.bytes, epoch)
    write(trial, TrialRecord(weights=record.attr()))  # one attribute: whole or absent
    return record


def removed_ids(study: optuna.Study) -> set[str]:
    """Artifact ids `prune_weights` removed from ``study``."""
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return {key[len(REMOVED_PREFIX) :] for key in attrs if key.startswith(REMOVED_PREFIX)}


def fetch_weights(study: optuna.Study, trial: FrozenTrial, url: str, dest: Path) -> tuple[Path, StoredWeights]:
    """Download ``trial``'s weights into the folder ``dest`` and check them against their record:
    the file's path and record, or an `HpoError` saying why they cannot be used."""
    retrain = "export it by retraining instead (drop --from-trial)"
    stored = StoredWeights.of(trial)
    if stored is None:
        why = "its upload did not finish, or [artifacts] was off"
        if trial.state == TrialState.PRUNED:
            why = "it was pruned, and [artifacts] pruned = false"
        raise HpoError(f"trial {trial.number} has no stored weights ({why}) — {retrain}")
    if stored.artifact_id in removed_ids(study):
        raise HpoError(f"the weights of trial {trial.number} were removed by `hpo artifacts prune` — {retrain}")
    store = open_store(url)
    if store is None:
        raise HpoError(f'[artifacts] store is "none" — name the store trial {trial.number} was saved to, or {retrain}')
    path = dest / f"trial-{trial.number}.weights.h5"
    try:
        download_artifact(artifact_store=store, file_path=str(path), artifact_id=stored.artifact_id)
    except ArtifactNotFound:
        raise HpoError(f"the weights of trial {trial.number} (artifact {stored.artifact_id}) are not in {url} — "
                       f"name the store the workers wrote to in [artifacts] store, or {retrain}") from None  # fmt: skip
    size = path.stat().st_size
    if size != stored.bytes or sha256_file(path) != stored.sha256:
        raise HpoError(f"the weights of trial {trial.number} in {url} (artifact {stored.artifact_id}, {size} bytes) "
                       f"differ from their checksum ({stored.bytes} bytes, sha256 {stored.sha256[:12]}…): changed or "
                       f"truncated — {retrain}")  # fmt: skip
    return path, stored


def keep_set(study: optuna.Study, keep_best: int) -> set[int]:
    """Numbers of the trials whose weights are kept: the ``keep_best`` most accurate complete
    trials (feasible ones first, as `best_by_accuracy` ranks them), and a multi-objective study's
    Pareto front."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: (feasible(t), accuracy(t) or 0.0), reverse=True)
    keep = {t.number for t in ranked[:keep_best]}
    if len(study.directions) > 1:
        keep |= {t.number for t in study.best_trials}
    return keep


def stored_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The complete, feasible trials whose weights are stored and not removed, the most accurate
    first: what an ensemble export (`hpo.savedmodel.ensemble`) can average."""
    gone = removed_ids(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    kept = [t for t in complete if feasible(t) and (w := StoredWeights.of(t)) is not None and w.artifact_id not in gone]
    return sorted(kept, key=lambda t: accuracy(t) or 0.0, reverse=True)


@dataclass(frozen=True)
class Pruned:
    """What `prune_weights` did: trials whose weights it removed, the bytes freed, trials kept."""

    removed: list[int]
    freed_bytes: int
    kept: list[int]


def prune_weights(study: optuna.Study, store: ArtifactStore, keep_best: int) -> Pruned:
    """Remove the stored weights of every finished trial outside `keep_set` (failed trials' too;
    running trials are left alone). Each is first marked removed on the study, then deleted, so an
    export never picks weights on their way out; running it again finishes what a crash left."""
    keep, gone = keep_set(study, keep_best), removed_ids(study)
    removed, kept, freed = [], [], 0
    for trial in study.get_trials(deepcopy=False):
        stored = StoredWeights.of(trial)
        if stored is None or trial.state == TrialState.RUNNING or trial.state == TrialState.WAITING:
            continue
        if trial.number in keep:
            kept.append(trial.number)
            continue
        if stored.artifact_id not in gone:
            study._storage.set_study_system_attr(study._study_id, REMOVED_PREFIX + stored.artifact_id, trial.number)
            removed.append(trial.number)
            freed += stored.bytes
        with suppress(ArtifactNotFound):
            store.remove(stored.artifact_id)
    if isinstance(store, FileStore):
        for part in store.stale_parts():
            freed += part.stat().st_size
            part.unlink(missing_ok=True)
    return Pruned(removed, freed, kept)


class KeepBest:
    """Optuna study callback for ``[artifacts] keep_best``: after each finished trial, remove all
    but the K best trials' weights."""

    def __init__(self, store: ArtifactStore, keep_best: int) -> None:
        self.store, self.keep_best = store, keep_best

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        pruned = prune_weights(study, self.store, self.keep_best)
        if pruned.removed:
            log.info("removed the weights of trial(s) %s (keep_best %d)", pruned.removed, self.keep_best)
