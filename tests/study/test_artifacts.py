"""Per-trial weights as Optuna artifacts, `hpo export --from-trial`, `hpo artifacts prune`, the
dashboard's view of them, and the search hooks (``keras_callbacks=``, ``callbacks=``, ``[tracking]``
TensorBoard and MLflow): one real search on synthetic data (3 trials, 2 epochs: two complete, one
pruned), read back with Optuna's, TensorBoard's and MLflow's own readers."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import keras
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import hpo
from hpo.errors import HpoError
from hpo.records.trial import StoredWeights
from hpo.study.artifacts import fetch_weights
from tests.helpers import ROOT
from tests.study.conftest import PRUNED

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("artifacts")]  # one worker searches the study once


def test_each_complete_trial_stores_one_artifact_and_a_pruned_one_none(art: dict[str, Any]) -> None:
    store = art["dir"] / "art" / "artifacts"  # the default: file:<run folder>/artifacts
    trials = art["trials"]
    stored = {n: StoredWeights.of(t) for n, t in trials.items()}
    assert stored[PRUNED] is None  # [artifacts] pruned = false by default
    complete = [n for n, t in trials.items() if t.state == TrialState.COMPLETE]
    assert sorted(p.name for p in store.iterdir()) == sorted(stored[n].artifact_id for n in complete)
    storage = art["study"].optuna_study()._storage
    for n in complete:
        w, t = stored[n], trials[n]
        assert w.epoch == hpo.TrialRecord.of(t).best_epoch and w.bytes == (store / w.artifact_id).stat().st_size
        assert w.sha256 == hashlib.sha256((store / w.artifact_id).read_bytes()).hexdigest()
        metas = optuna.artifacts.get_all_artifact_meta(t, storage=storage)  # what the dashboard lists
        assert [(m.artifact_id, m.filename) for m in metas] == [(w.artifact_id, f"trial-{n}.weights.h5")]


def test_export_from_trial_is_the_trials_own_model_with_no_training(
    art: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    def no_fit(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an export from the trial's weights trained a model")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    study, (test_x, test_y) = art["study"], art["test"]
    best = study.best_trial()
    t0 = time.perf_counter()
    export = study.export(tmp_path / "model", from_trial=True)
    seconds = time.perf_counter() - t0
    m, epoch = export.metrics, StoredWeights.of(best).epoch  # type: ignore[union-attr]
    assert (m.trial, m.from_trial, m.epochs, m.training_seconds) == (best.number, True, epoch, 0.0)
    loaded = tf.saved_model.load(str(export.saved_model))  # keep a reference: .serve needs its variables
    served = np.asarray(loaded.serve(tf.constant(test_x, tf.float32)))
    own = art["predicted"][best.number][epoch]  # the trial's model at that epoch, during the search
    diff = float(np.max(np.abs(served - own)))
    assert diff <= 1e-5, diff
    assert m.test_accuracy == pytest.approx(float(np.mean(own.argmax(1) == test_y)))
    val_x, val_y = study.data().arrays("val")
    val = np.asarray(loaded.serve(tf.constant(val_x, tf.float32)))
    assert float(np.mean(val.argmax(1) == val_y)) == pytest.approx(best.value)  # the value the trial reported
    card = (export.path / "MODEL_CARD.md").read_text()
    assert f"trained on train only, epoch {epoch}" in card and "retrained on train+val" not in card
    print(f"export --from-trial: {seconds:.1f} s, max abs diff {diff:.1e}")


def test_tensorboard_writes_one_run_per_trial_read_back_by_tensorboard(art: dict[str, Any]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    runs = sorted((art["dir"] / "runs" / "art").iterdir())
    assert [r.name.split("_")[0] for r in runs] == ["trial-0000", "trial-0001", "trial-0002"]
    for run in runs:
        trial = art["trials"][int(run.name[len("trial-") : len("trial-0000")])]
        assert f"lr={trial.params['learning_rate']:.2g}" in run.name and f"bs={trial.params['batch_size']}" in run.name
        events = EventAccumulator(str(run / "validation"))
        events.Reload()
        curve = {e.step: float(tensor_util.make_ndarray(e.tensor_proto)) for e in events.Tensors("epoch_accuracy")}
        if trial.state == TrialState.PRUNED:  # pruned by our callback after epoch 1: that epoch is logged
            assert list(curve) == [0]
        else:
            assert curve == pytest.approx(trial.intermediate_values)  # val_accuracy per epoch


def test_mlflow_gets_one_run_per_trial(art: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient((art["dir"] / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("art")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["0", "1", "2"]
    for number, trial in art["trials"].items():
        run = runs[str(number)]
        assert run.data.tags["state"] == trial.state.name
        assert run.data.params["learning_rate"] == str(trial.params["learning_rate"])
        if trial.state == TrialState.COMPLETE:
            assert run.data.metrics == {"val_accuracy": pytest.approx(trial.value)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dashboard_lists_and_serves_each_trials_weights(art: dict[str, Any]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "dashboard", str(art["toml"]), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and f":{port}/dashboard/studies/" in proc.stdout.readline()
        study_id = art["study"].optuna_study()._study_id
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                detail = json.load(urllib.request.urlopen(f"{base}/api/studies/{study_id}", timeout=5))
                break
            except OSError:
                time.sleep(0.2)
        for t in detail["trials"]:
            stored = StoredWeights.of(art["trials"][t["number"]])
            assert [a["artifact_id"] for a in t["artifacts"]] == ([stored.artifact_id] if stored else [])
            if stored:
                url = f"{base}/artifacts/{study_id}/{t['trial_id']}/{stored.artifact_id}"
                assert hashlib.sha256(urllib.request.urlopen(url, timeout=10).read()).hexdigest() == stored.sha256
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture
def copy(art: dict[str, Any], tmp_path: Path) -> Path:
    """A copy of the searched study (file, database, run folder), for tests that change it."""
    shutil.copytree(art["dir"], tmp_path / "art", ignore=shutil.ignore_patterns("mlruns", "runs"))
    return tmp_path / "art" / "art.toml"


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The real CLI, in this process (TensorFlow is loaded already): exit status, stdout, stderr."""
    from hpo.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _export_error(capsys: pytest.CaptureFixture[str], toml: Path, *args: str) -> str:
    code, _, err = _cli(capsys, "export", toml, "--from-trial", "--out", toml.parent / "model", "--no-progress", *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and lines[-1].startswith("hpo: error: ") and "Traceback" not in err, err
    return lines[-1]


def test_prune_keeps_the_best_and_export_refuses_what_it_removed(
    copy: Path, art: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    best = art["study"].best_trial().number
    other = next(n for n, t in art["trials"].items() if t.state == TrialState.COMPLETE and n != best)
    code, out, err = _cli(capsys, "artifacts", "prune", copy, "--keep-best", "1")
    assert code == 0, err
    freed = StoredWeights.of(art["trials"][other]).bytes  # type: ignore[union-attr]
    assert f"Removed the weights of 1 trial(s), {freed / 1e6:.2f} MB; kept trial(s) {best}" in out
    remaining = [p.name for p in (copy.parent / "art" / "artifacts").iterdir()]
    assert remaining == [StoredWeights.of(art["trials"][best]).artifact_id]  # type: ignore[union-attr]
    listed = json.loads(_cli(capsys, "artifacts", "list", copy, "--json")[1])
    assert {r["trial"]: r["status"] for r in listed} == {best: "stored", other: "removed"}
    assert "were removed by `hpo artifacts prune`" in _export_error(capsys, copy, "--trial", str(other))
    assert "it was pruned, and [artifacts] pruned = false" in _export_error(capsys, copy, "--trial", str(PRUNED))


def test_changed_weights_are_refused_by_their_checksum(
    copy: Path, art: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    best = StoredWeights.of(art["study"].best_trial())
    assert best is not None
    path = copy.parent / "art" / "artifacts" / best.artifact_id
    path.write_bytes(path.read_bytes()[:-100])  # truncated, as by a full disk
    line = _export_error(capsys, copy)
    assert "differ from their checksum" in line and "drop --from-trial" in line
    assert "give --epochs or --from-trial, not both" in _export_error(capsys, copy, "--epochs", "2")


#: a worker's upload, in a process of its own: a trial of a real SQLite study, a real file store
UPLOAD = """
import sys
from pathlib import Path
import optuna
from hpo.study.artifacts import open_store, upload_weights
study = optuna.load_study(study_name="k", storage=sys.argv[1])
upload_weights(study.ask(), open_store(sys.argv[2], create=True), Path(sys.argv[3]), 1)
"""


@pytest.mark.parametrize("step", ["artifact-upload", "artifact-uploaded"])
def test_a_worker_killed_during_the_upload_leaves_nothing_an_export_accepts(tmp_path: Path, step: str) -> None:
    """SIGKILL with part of the file written, and after the upload but before hpo's record:
    either way the trial has no record, and the bytes left in the store are never used."""
    from hpo.fsutil import CRASH_ENV

    storage, store = f"sqlite:///{tmp_path / 'k.db'}", f"file:{tmp_path / 'artifacts'}"
    optuna.create_study(study_name="k", storage=storage)
    weights = tmp_path / "trial-0.weights.h5"
    weights.write_bytes(np.random.default_rng(0).bytes(3 << 20))  # three 1 MiB chunks
    proc = subprocess.run(
        [sys.executable, "-c", UPLOAD, storage, store, str(weights)],
        env={CRASH_ENV: step, "PATH": "/usr/bin:/bin"}, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr  # SIGKILL
    study = optuna.load_study(study_name="k", storage=storage)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.RUNNING and StoredWeights.of(trial) is None
    left = list((tmp_path / "artifacts").iterdir())
    metas = optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)
    if step == "artifact-upload":  # one chunk of three, under a name no id can have; no metadata
        assert [(p.name.split(".part-")[0][:1], p.stat().st_size) for p in left] == [(".", 1 << 20)] and not metas
    else:  # the whole file and Optuna's metadata (the dashboard lists it), but no hpo record
        assert [p.name for p in left] == [m.artifact_id for m in metas] and left[0].stat().st_size == 3 << 20
    with pytest.raises(HpoError, match="trial 0 has no stored weights"):
        fetch_weights(study, trial, store, tmp_path)


def test_keep_best_in_the_study_file_prunes_after_every_trial(copy: Path, art: dict[str, Any]) -> None:
    from hpo.study.study import load_study
    from hpo.study.tracking import study_callbacks

    with copy.open("a") as fh:
        fh.write("[artifacts]\nkeep_best = 1\n")
    config = hpo.Study.from_file(copy).config
    study = load_study(config)
    hook = study_callbacks(config)[-1]  # what the search calls after each finished trial (after MLflow's)
    hook(study, study.get_trials()[-1])
    best = StoredWeights.of(art["study"].best_trial())
    assert best is not None and [p.name for p in (copy.parent / "art" / "artifacts").iterdir()] == [best.artifact_id]
