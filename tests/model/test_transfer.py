"""Pretrained-backbone studies end to end (``[model] family``), with ``weights = "none"``: there is
no network at test time, so the ImageNet path is tested by its offline error. Real searches,
real exports (reload parity is checked by the export itself), `hpo predict` on them. Each backbone is built,
fine-tuned for an epoch and exported in tests/model/test_backbones.py; here one runs through hpo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from optuna.trial import TrialState

import hpo
from hpo.config import load_config
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

pytestmark = pytest.mark.slow

#: the CNN-only keys of the tiny study, which a backbone study must not set
NO_CNN = {"depth": None, "base_filters": None}


def _study(folder: Path, synth_dir: Path, family: str, weights: str = "none", **sections: dict) -> Path:
    return write_study(
        folder,
        family.replace("_", "-"),
        synth_dir,
        study={"n_trials": 1},
        model={"family": family, "weights": weights, "input_size": 32},  # 16 px cache, resized in the model
        search={**NO_CNN, "dense_units": [16, 32], "fine_tune_layers": [0, 8], "batch_size": [16]},
        training={"max_epochs": 1},
        **sections,
    )


def test_mobilenet_search_and_export_through_the_cli_then_predict(synth_dir: Path, tmp_path: Path) -> None:
    toml = _study(tmp_path, synth_dir, "mobilenet_v3_small")
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    study = hpo.Study.from_file(toml).optuna_study()
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE]  # no CNN baseline enqueued
    record = hpo.TrialRecord.of(trials[0])
    assert record.family == "mobilenet_v3_small" and record.model_params is not None
    assert {"fine_tune_layers", "backbone_lr_scale"} <= set(trials[0].params) and "depth" not in trials[0].params

    out = tmp_path / "models" / "mobilenet"
    proc = run_hpo("export", toml, "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Reloaded SavedModel matches" in proc.stdout
    metrics = hpo.ExportMetrics.load(out)
    assert metrics.family == "mobilenet_v3_small" and metrics.reload_max_abs_diff <= 1e-5
    assert metrics.image_size == 16 and "ImageNet-pretrained mobilenet_v3_small" in (out / "MODEL_CARD.md").read_text()
    probs = hpo.load_model(out).predict_files([next(synth_dir.rglob("*.jpg"))])
    assert len(probs) == 1 and "top" in probs[0]


def test_imagenet_weights_offline_is_one_line(synth_dir: Path, tmp_path: Path) -> None:
    toml = _study(tmp_path, synth_dir, "mobilenet_v3_small", weights="imagenet")
    dead = "http://127.0.0.1:9"  # nothing listens: the download fails at once, with no network at all
    env = {"KERAS_HOME": str(tmp_path / "keras")} | {
        k: dead for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    }
    proc = run_hpo("search", toml, "--no-progress", env=env)
    assert_user_error(
        proc,
        "mobilenet_v3_small: ImageNet weights weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "cannot be downloaded",
        "MobileNetV3Small(weights='imagenet', include_top=False)",
        sole=False,
    )


def test_committed_transfer_study_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "studies" / "animals10-transfer.toml")
    assert config.model.family == "mobilenet_v3_large" and config.model.weights == "imagenet"
    assert not config.study.enqueue_baseline and config.training.mixed_precision
    assert os.path.basename(str(config.data.source)) == "animals10"
