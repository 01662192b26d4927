"""The public Python API (`import hpo`) and your own model (`[model] builder` / ``build=``):
real searches on real SQLite files, real exports, `hpo predict` on them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from optuna.trial import TrialState

import hpo
from tests.helpers import ROOT, assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

pytestmark = pytest.mark.slow

#: a define-by-run builder, as a user would write it: an uncompiled model (hpo compiles it with
#: the searched optimizer) whose width and dropout it suggests itself
BUILDER = """
import keras


def build(trial, num_classes, image_size):
    units = trial.suggest_int("units", 8, 64, log=True)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(trial.suggest_categorical("filters", [4, 8]), 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dropout(trial.suggest_float("drop", 0.0, 0.5))(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
"""


def _example() -> ModuleType:
    """``examples/own_model.py`` as a module (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location("own_model", ROOT / "examples" / "own_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_searches_your_model_on_arrays_exports_and_predicts(tmp_path: Path) -> None:
    example = _example()
    export = example.main(tmp_path, n_trials=3)
    optuna_study = hpo.Study.create("own-model", folder=tmp_path).optuna_study()
    trials = optuna_study.get_trials()
    assert len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == 3
    assert not any(hpo.TrialRecord.of(t).baseline for t in trials) and (tmp_path / "own-model.db").is_file()
    assert isinstance(export.metrics, hpo.ExportMetrics) and export.metrics.split_sizes == {
        "train": 240,
        "val": 60,
        "test": 60,
    }
    assert export.metrics.family == "own_model:build" and (export.saved_model / "saved_model.pb").is_file()
    x, y = example.bright_channel_images(60, 2)  # the test split
    probs = hpo.load_model(export.path).predict(x)
    assert probs.shape == (60, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert float(np.mean(probs.argmax(1) == y)) == export.metrics.test_accuracy


def test_arrays_refuse_bad_input_in_one_line() -> None:
    x, y = _example().bright_channel_images(10, 0)
    for args, message in (
        ((x / 255.0, y, x, y), "x_train: pixels look scaled to 0..1"),
        ((x[..., :1], y, x, y), "x_train: expected RGB images shaped [N, S, S, 3]"),
        ((x, y[:5], x, y), "y_train: expected 10 integer labels"),
        ((x, y, x[:, :8, :8], y), "x_val: images are [8, 8, 3], x_train's [24, 24, 3]"),
    ):
        with pytest.raises(hpo.HpoError, match=None) as err:
            hpo.arrays(*args)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_custom_builder_from_a_module_searches_prunes_exports_and_predicts(synth_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "my_models.py").write_text(BUILDER)
    toml = write_study(
        tmp_path,
        "mine",
        synth_dir,
        study={"n_trials": 8},
        model={"builder": "my_models:build"},
        search={"depth": None, "base_filters": None, "dense_units": None, "learning_rate": [1e-4, 3e-2]},
        training={"max_epochs": 6},
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    study = hpo.Study.from_file(toml).optuna_study()
    trials = study.get_trials()
    assert any(t.state == TrialState.PRUNED for t in trials), "Hyperband pruned nothing"
    assert not any(hpo.TrialRecord.of(t).baseline for t in trials)  # no CNN baseline for a builder
    record = hpo.TrialRecord.of(trials[0])
    assert record.family == "my_models:build" and {"units", "filters", "drop", "optimizer"} <= set(trials[0].params)

    out = tmp_path / "models" / "mine"
    proc = run_hpo("export", toml, "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    metrics = hpo.ExportMetrics.load(out)
    assert metrics.family == "my_models:build" and metrics.params["units"] == study.best_trial.params["units"]
    assert "my_models:build" in (out / "MODEL_CARD.md").read_text()
    image = next(synth_dir.rglob("*.jpg"))
    proc = run_hpo("predict", out, image)
    assert proc.returncode == 0 and image.name in proc.stdout, proc.stderr


def test_compiled_builder_passed_to_the_api_keeps_its_optimizer(synth_dir: Path, tmp_path: Path) -> None:
    import keras

    seen: list[str] = []

    def build(trial: object, num_classes: int, image_size: int) -> keras.Model:
        inputs = keras.Input((image_size, image_size, 3))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        return model

    def spy(trial: object, num_classes: int, image_size: int) -> keras.Model:
        model = build(trial, num_classes, image_size)
        seen.append(type(model.optimizer).__name__)
        return model

    toml = write_study(tmp_path, "compiled", synth_dir, study={"n_trials": 2, "enqueue_baseline": False})
    study = hpo.Study.from_file(toml, build=spy)
    optuna_study = study.search()
    assert seen == ["SGD", "SGD"]
    params = optuna_study.trials[0].params
    assert set(params) == {"batch_size"}  # compiled: no optimizer, learning rate or schedule suggested
    export = study.export(tmp_path / "out")
    assert export.metrics.family.endswith("spy")
    # the recorded test accuracy is the exported model's own: reloaded, it scores exactly that
    x, y = study.data().arrays("test")
    reloaded = float(np.mean(hpo.load_model(export.path).predict(x).argmax(1) == y))
    assert len(y) > 0 and reloaded == pytest.approx(export.metrics.test_accuracy, abs=1e-9)


def test_a_builder_that_cannot_be_imported_is_one_line(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(
        tmp_path,
        "missing",
        synth_dir,
        model={"builder": "no_such_module:build"},
        search={"depth": None, "base_filters": None, "dense_units": None},
    )
    assert_user_error(run_hpo("search", toml, "--no-progress"), "[model] builder 'no_such_module:build': cannot import")


def test_import_hpo_stays_cheap() -> None:
    code = "import sys, hpo; hpo.Study; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_readme_snippets_compile_and_use_only_the_public_api() -> None:
    readme = (ROOT / "README.md").read_text()
    for section in ("## Python API", "## Your own model"):
        body = readme.split(section, 1)[1].split("\n## ", 1)[0]
        blocks = [b.split("```", 1)[0] for b in body.split("```python\n")[1:]]
        assert blocks, f"{section}: no python snippet"
        for code in blocks:
            compile(code, f"README {section}", "exec")
            used = set(re.findall(r"\bhpo\.([A-Za-z_]+)", code))
            assert used <= set(hpo.__all__), used - set(hpo.__all__)
