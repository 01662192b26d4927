"""`hpo.records.export`: metrics.json through `ExportMetrics` — round trip, earlier exports,
one-line errors naming the file and the key, and what the model card says per model family."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from hpo.config import load_config
from hpo.data.prepared import ClassInfo
from hpo.errors import ModelFileError
from hpo.records.export import METRICS_FILE, ExportMetrics, TFLiteVariant
from hpo.records.study import ExportRecord
from hpo.records.trial import StoredWeights, TrialRecord, write
from hpo.report.html import report_panels
from hpo.savedmodel.metrics import classification_metrics, format_metrics
from hpo.savedmodel.model_card import model_card
from tests.helpers.studyfiles import write_study

LABELS = ["cat", "dog", "horse"]


def _metrics(**changes: Any) -> ExportMetrics:
    test = classification_metrics(np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 0, 2]), LABELS)
    m = ExportMetrics(
        study="demo",
        trial=7,
        baseline=False,
        trial_val_accuracy=0.8125,
        params={"learning_rate": 0.001, "batch_size": 32, "optimizer": "adam", "batch_norm": True},
        param_count=123456,
        epochs=9,
        training_seconds=41.5,
        train_accuracy=0.9,
        test_accuracy=test.accuracy,
        train_test_gap=0.9 - test.accuracy,
        test=test,
        split_sizes={"train": 70, "val": 15, "test": 7},
        image_size=64,
        source="../../data/demo",
        saved_model_size_mb=1.75,
        reload_max_abs_diff=3e-7,
        tflite={"int8": TFLiteVariant("model_int8.tflite", 0.25, 0.7142857142857143)},
        family="mobilenet_v3_small",
    )
    return replace(m, **changes)


def _labels() -> list[ClassInfo]:
    return [ClassInfo(i, name, name) for i, name in enumerate(LABELS)]


def _error(path: Path, obj: Any) -> str:
    """The message of loading ``obj`` written as ``path`` (a one-line `ModelFileError`)."""
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    with pytest.raises(ModelFileError) as info:
        ExportMetrics.load(path.parent)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    m = _metrics()
    assert m.save(tmp_path) == tmp_path / METRICS_FILE
    assert ExportMetrics.load(tmp_path) == m
    assert ExportMetrics.load(tmp_path / METRICS_FILE) == m  # the folder or the file itself
    no_tflite = _metrics(tflite=None, trial_val_accuracy=None, baseline=True, family="cnn")
    no_tflite.save(tmp_path)
    assert "tflite" not in json.loads((tmp_path / METRICS_FILE).read_text())
    assert ExportMetrics.load(tmp_path) == no_tflite


def test_the_json_keys_are_those_of_earlier_exports(tmp_path: Path) -> None:
    _metrics().save(tmp_path)
    data = json.loads((tmp_path / METRICS_FILE).read_text())
    assert set(data) == {
        "study", "trial", "baseline", "trial_val_accuracy", "params", "param_count", "epochs",
        "training_seconds", "train_accuracy", "test_accuracy", "train_test_gap", "test", "split_sizes",
        "image_size", "source", "saved_model_size_mb", "reload_max_abs_diff", "tflite", "family", "from_trial",
    }  # fmt: skip
    assert set(data["test"]) == {"accuracy", "n", "per_class", "macro_f1", "confusion_matrix"}
    assert set(data["test"]["per_class"][0]) == {"label", "precision", "recall", "f1", "support"}
    assert data["tflite"]["int8"] == {"file": "model_int8.tflite", "size_mb": 0.25, "test_accuracy": 0.7142857142857143}


def test_an_ensembles_members_are_written_and_read_back(tmp_path: Path) -> None:
    ensemble = replace(_metrics(), members=[5, 3, 1], ensemble_val_accuracy=0.7356)
    ensemble.save(tmp_path)
    data = json.loads((tmp_path / METRICS_FILE).read_text())
    assert (data["members"], data["ensemble_val_accuracy"]) == ([5, 3, 1], 0.7356)
    assert ExportMetrics.load(tmp_path) == ensemble
    data["members"] = [5, "3"]
    (tmp_path / METRICS_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="members"):
        ExportMetrics.load(tmp_path)


def test_an_export_written_before_family_and_without_tflite_loads(tmp_path: Path) -> None:
    old = _metrics().to_json()
    del old["family"], old["tflite"], old["from_trial"]
    old["unknown_later_key"] = 1  # keys this version does not know are ignored
    (tmp_path / METRICS_FILE).write_text(json.dumps(old))
    m = ExportMetrics.load(tmp_path)
    assert m.family == "cnn" and m.tflite is None and m.from_trial is False
    assert m == _metrics(family="cnn", tflite=None)


def test_a_missing_or_garbled_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / METRICS_FILE
    good = _metrics().to_json()
    assert "lacks the key 'test_accuracy'" in _error(path, {k: v for k, v in good.items() if k != "test_accuracy"})
    assert "'epochs' is a string ('ten'), not an integer" in _error(path, {**good, "epochs": "ten"})
    assert "'baseline' is an integer (1), not true or false" in _error(path, {**good, "baseline": 1})
    assert "'trial' is a boolean (True), not an integer" in _error(path, {**good, "trial": True})
    rows = [dict(c) for c in good["test"]["per_class"]]
    del rows[1]["f1"]
    assert "lacks the key 'test.per_class[1].f1'" in _error(path, {**good, "test": {**good["test"], "per_class": rows}})
    square = {**good["test"], "confusion_matrix": [[1, 2], [3, 4]]}
    assert "'test.confusion_matrix'" in _error(path, {**good, "test": square})
    assert "3 x 3" in _error(path, {**good, "test": square})
    text = {**good["test"], "confusion_matrix": [[1, 0, 0], [0, "1", 0], [0, 0, 1]]}
    assert "'test.confusion_matrix' is a string ('1'), not a matrix of integers" in _error(path, {**good, "test": text})
    variant = {"int8": {"file": "model_int8.tflite", "size_mb": "big", "test_accuracy": 0.5}}
    assert "'tflite.int8.size_mb' is a string ('big'), not a number" in _error(path, {**good, "tflite": variant})
    assert "'split_sizes.val'" in _error(path, {**good, "split_sizes": {"train": 1, "val": None}})
    assert "the top level is a list" in _error(path, [good])


def test_a_missing_or_unparsable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"metrics\.json is missing — point at a folder written by `hpo export`"):
        ExportMetrics.load(tmp_path)
    assert "is not JSON" in _error(tmp_path / METRICS_FILE, '{"study": "demo",')
    (tmp_path / METRICS_FILE).write_bytes(b"\xff\xfe{}")
    with pytest.raises(ModelFileError, match="is not JSON"):
        ExportMetrics.load(tmp_path)


@pytest.mark.parametrize(
    ("family", "sentence"),
    [
        ("cnn", "A from-scratch CNN found by an Optuna search (`hpo`), trial 7"),
        (
            "mobilenet_v3_small",
            "An ImageNet-pretrained mobilenet_v3_small backbone with a searched head, fine-tuned by an Optuna search",
        ),
        ("efficientnet_b3", "An ImageNet-pretrained efficientnet_b3 backbone with a searched head"),
        ("mypkg.nets:build", "A model built by your `mypkg.nets:build`, trained by an Optuna search (`hpo`)"),
    ],
)
def test_the_model_card_says_what_kind_of_model_it_is(tmp_path: Path, family: str, sentence: str) -> None:
    _metrics(family=family).save(tmp_path)
    card = model_card(ExportMetrics.load(tmp_path), _labels())
    model = card.split("## Model\n", 1)[1].split("\n\n", 1)[0]
    assert model.startswith(sentence), model
    assert ("from-scratch" in card) == (family == "cnn")
    assert "**0.7143**" in card and "| model_int8.tflite | 0.250 | 0.7143 |" in card


def test_format_metrics_reads_the_report() -> None:
    text = format_metrics(_metrics().test)
    assert text.splitlines()[0] == "accuracy 0.7143 on 7 images (macro F1 0.7000)"  # F1 0.5, 0.8, 0.8
    assert text.splitlines()[2].split() == ["cat", "0.500", "0.500", "0.500", "2"]


def test_the_report_draws_the_export_or_names_the_garbled_key(tmp_path: Path) -> None:
    config = load_config(write_study(tmp_path, "inmem", tmp_path))
    out = tmp_path / "models" / "inmem"
    m = _metrics()
    path = m.save(out)
    study = optuna.create_study(direction="maximize")
    record = ExportRecord("models/inmem", m.trial, m.test_accuracy, m.epochs, m.param_count)
    record.save(study)
    panels = {p.title: p for p in report_panels(study, config)}
    assert panels["Exported model: confusion matrix"].figure is not None
    assert panels["Exported model: per-class metrics"].figure is not None
    data = m.to_json()
    data["test"]["macro_f1"] = None
    path.write_text(json.dumps(data))
    why = {p.title: p.why_not for p in report_panels(study, config)}["Exported model"]
    assert str(path) in why and "'test.macro_f1' is null, not a number" in why, why


def test_stored_weights_are_read_whole_or_not_at_all() -> None:
    """A trial's `weights` record is one user attr; anything but the four typed keys reads as none."""
    study = optuna.create_study()
    good = StoredWeights("0b8f-id", "ab" * 32, 1234, 3)
    values = [good.attr(), {**good.attr(), "bytes": "1234"}, {"artifact_id": "x"}, None, "x"]
    for value in values:
        trial = study.ask()
        write(trial, TrialRecord(weights=value if isinstance(value, dict) else None))
        if not isinstance(value, dict):
            trial.set_user_attr("weights", value)
        study.tell(trial, 0.0)
    read = [StoredWeights.of(t) for t in study.get_trials()]
    assert read == [good, None, None, None, None]
