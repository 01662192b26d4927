"""`hpo export --ensemble K`: the greedy choice of members on the val split, and the exported mean
of the trials' own weights, checked against what each trial's model predicted during the search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from optuna.trial import TrialState

from hpo.savedmodel import ensemble
from hpo.savedmodel.ensemble import select_members
from hpo.savedmodel.export import MAX_ABS_DIFF

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("artifacts")]  # the study of tests/study/conftest.py


def _onehot(right: np.ndarray, labels: np.ndarray, confidence: float) -> np.ndarray:
    """Class probabilities over 3 classes: ``confidence`` on the label where ``right``, else on the next class."""
    guess = np.where(right, labels, (labels + 1) % 3)
    probs = np.full((len(labels), 3), (1 - confidence) / 2)
    probs[np.arange(len(labels)), guess] = confidence
    return probs


def _score(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    right = probs[np.arange(len(labels)), labels]
    return float(np.mean(probs.argmax(1) == labels)), float(np.mean(np.log(right)))


def test_members_are_added_while_they_raise_val_accuracy() -> None:
    labels, i = np.arange(12) % 3, np.arange(12)
    # three trials, each wrong only where the other two are right
    probs = {
        3: _onehot(i < 9, labels, 0.7),  # the best alone: 9 of 12
        5: _onehot(i >= 4, labels, 0.65),
        8: _onehot((i < 4) | (i >= 8), labels, 0.6),
        9: _onehot(i < 2, labels, 0.9),  # right on 2 of 12: never helps
    }
    chosen = select_members(probs, labels, 4)
    assert chosen[0] == 3 and sorted(chosen) == [3, 5, 8]  # the best alone first; not trial 9
    mean = np.mean([probs[n] for n in chosen], axis=0)
    assert _score(mean, labels)[0] == 1.0  # two of three right on every image
    for k in range(1, len(chosen)):  # each member raised the score of the mean before it
        before = np.mean([probs[n] for n in chosen[:k]], axis=0)
        after = np.mean([probs[n] for n in chosen[: k + 1]], axis=0)
        assert _score(after, labels) > _score(before, labels)
    assert select_members(probs, labels, 2) == chosen[:2]  # at most K
    assert select_members(probs, labels, 1) == [3]
    # nothing beats the best alone: one member
    only = {1: _onehot(i >= 0, labels, 0.9), 2: _onehot(i < 0, labels, 0.9)}
    assert select_members(only, labels, 4) == [1]


def _served(saved_model: Path, images: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))  # keep a reference: .serve needs its variables
    return np.asarray(loaded.serve(tf.constant(images, tf.float32)))


def _own_mean(art: dict[str, Any], metrics: dict[str, Any]) -> np.ndarray:
    """The mean of what the members' models predicted on the test split at their stored epoch."""
    from hpo.records.trial import StoredWeights

    own = [art["predicted"][n][StoredWeights.of(art["trials"][n]).epoch] for n in metrics["members"]]  # type: ignore[union-attr]
    return np.mean(own, axis=0)


def test_an_ensemble_export_serves_the_mean_of_its_members(
    art: dict[str, Any], synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from hpo.cli import main

    complete = sorted(n for n, t in art["trials"].items() if t.state == TrialState.COMPLETE)
    best = art["study"].best_trial().number
    both = [best, *(n for n in complete if n != best)]
    chosen: list[list[int]] = []

    def pick_both(probs: dict[int, np.ndarray], labels: np.ndarray, size: int) -> list[int]:
        chosen.append(select_members(probs, labels, size))  # what the rule picks on this tiny study
        assert sorted(probs) == complete  # every complete trial with stored weights is a candidate
        return both

    monkeypatch.setattr(ensemble, "select_members", pick_both)
    export = art["study"].export(tmp_path / "model", ensemble=3, tflite=True)
    metrics = json.loads((export.path / "metrics.json").read_text())
    assert metrics["members"] == both and metrics["trial"] == best and metrics["from_trial"]
    test_x, test_y = art["test"]
    served, mean = _served(export.saved_model, test_x), _own_mean(art, metrics)
    assert float(np.max(np.abs(served - mean))) <= MAX_ABS_DIFF
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(mean.argmax(1) == test_y)))
    val_x, val_y = art["study"].data().arrays("val")
    val = _served(export.saved_model, val_x)
    assert metrics["ensemble_val_accuracy"] == pytest.approx(float(np.mean(val.argmax(1) == val_y)))
    card = (export.path / "MODEL_CARD.md").read_text()
    assert f"averaged with trials {both[1]} (an ensemble of 2 trials' own weights" in card
    assert chosen and chosen[0][0] in complete
    for variant in metrics["tflite"].values():  # the ensemble converts like one network
        assert abs(variant["test_accuracy"] - metrics["test_accuracy"]) <= 0.1, variant
    image = next(p for p in sorted(synth_dir.rglob("*")) if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    capsys.readouterr()
    assert main(["predict", str(export.path), str(image), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)  # a prediction for the file


def test_the_cli_exports_the_chosen_members(
    art: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hpo.cli import main

    out = tmp_path / "model"
    assert main(["export", str(art["toml"]), "--ensemble", "3", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    members = metrics["members"] or [metrics["trial"]]
    assert set(members) <= {n for n, t in art["trials"].items() if t.state == TrialState.COMPLETE}
    served, mean = _served(out / "saved_model", art["test"][0]), _own_mean(art, {"members": members})
    assert float(np.max(np.abs(served - mean))) <= MAX_ABS_DIFF
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in printed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ensemble", "-1"], "--ensemble must be 0 (retrain one trial) or more (members), got -1"),
        (["--ensemble", "2", "--trial", "1"], "give --ensemble or --trial, not both"),
        (["--ensemble", "2", "--epochs", "3"], "give --ensemble or --epochs, not both"),
    ],
)
def test_wrong_ensemble_flags_are_one_line(
    art: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    from hpo.cli import main

    code = main(["export", str(art["toml"]), "--out", str(tmp_path / "model"), "--no-progress", *flags])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and lines[-1].startswith("hpo: error: ") and message in lines[-1], err
    assert not (tmp_path / "model").exists()


def _with_export(art: dict[str, Any], tmp_path: Path, ensemble: int) -> Path:
    """A copy of the searched study whose file asks for ``[export] ensemble``."""
    shutil.copytree(art["dir"], tmp_path / "art", ignore=shutil.ignore_patterns("mlruns", "runs"))
    toml = tmp_path / "art" / "art.toml"
    toml.write_text(toml.read_text() + f"\n[export]\nensemble = {ensemble}\n")
    return toml


def test_the_study_files_export_section_makes_a_plain_export_an_ensemble(
    art: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hpo.cli import main

    toml = _with_export(art, tmp_path, 2)
    assert main(["export", str(toml), "--out", str(tmp_path / "plain"), "--no-progress"]) == 0
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert plain["members"] and plain["from_trial"] and plain["training_seconds"] == 0.0
    # a trial named, or --ensemble 0: one trial retrained on train+val, as without [export]
    for flags in (["--trial", str(plain["trial"])], ["--ensemble", "0"]):
        out = tmp_path / flags[0].strip("-")
        assert main(["export", str(toml), "--out", str(out), "--no-progress", "--epochs", "1", *flags]) == 0
        one = json.loads((out / "metrics.json").read_text())
        assert "members" not in one and not one["from_trial"] and one["epochs"] == 1
    capsys.readouterr()


def test_without_stored_weights_the_export_section_retrains(
    synth_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hpo
    from tests.helpers.studyfiles import write_study

    toml = write_study(
        tmp_path, "nostore", synth_dir,
        study={"n_trials": 1}, training={"max_epochs": 1}, artifacts={"store": "none"}, export={"ensemble": 3},
    )  # fmt: skip
    study = hpo.Study.from_file(toml)
    study.search()
    metrics = study.export(tmp_path / "model").metrics
    assert metrics.members is None and not metrics.from_trial and metrics.training_seconds > 0
    assert "[export] ensemble = 3, but no complete trial stored its weights" in caplog.text


@pytest.mark.parametrize(("table", "message"), [("ensemble = -1", "ensemble"), ("members = 3", "members")])
def test_a_wrong_export_section_is_one_line(synth_dir: Path, tmp_path: Path, table: str, message: str) -> None:
    from hpo.config import ConfigError, load_config
    from tests.helpers.studyfiles import write_study

    toml = write_study(tmp_path, "bad", synth_dir)
    toml.write_text(toml.read_text() + f"\n[export]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(toml)
    assert "\n" not in str(info.value) and "[export]" in str(info.value)


def test_weights_removed_by_prune_are_not_candidates(
    art: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hpo artifacts prune --keep-best 1` (or [artifacts] keep_best) leaves one trial to average."""
    from hpo.cli import main

    toml = _with_export(art, tmp_path, 3)
    assert main(["artifacts", "prune", str(toml), "--keep-best", "1"]) == 0
    assert main(["export", str(toml), "--out", str(tmp_path / "model"), "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["members"] == [art["study"].best_trial().number]
    capsys.readouterr()
