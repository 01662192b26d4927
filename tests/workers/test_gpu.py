"""GPU paths: what can be simulated on a CPU (a worker pinned by CUDA_VISIBLE_DEVICES, mixed
precision falling back to float32 with one warning, or to bfloat16 on a CPU that has it), and the
real check where a GPU exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.helpers import require, run_hpo
from tests.helpers.studyfiles import write_study


def _gpus_visible() -> bool:
    code = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) > 0


@pytest.mark.slow
def test_pinned_worker_records_its_gpu_and_mixed_precision_falls_back(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(
        tmp_path, "pinned", synth_dir, study={"n_trials": 1}, training={"max_epochs": 1, "mixed_precision": True}
    )
    proc = run_hpo("worker", toml, "--id", "g3", env={"CUDA_VISIBLE_DEVICES": "3"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from hpo.workers.process import cpu_has_bf16

    bf16 = "mixed_bfloat16 on this CPU (it has AVX512-BF16/AMX)"  # an Intel Xeon with AMX, say
    warning = bf16 if cpu_has_bf16() else "mixed_precision = true but no GPU is visible and this CPU has no bfloat16"
    assert (proc.stdout + proc.stderr).count(warning) == 1
    trials = optuna.load_study(study_name="pinned", storage=f"sqlite:///{tmp_path / 'pinned.db'}").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE]
    assert trials[0].user_attrs["cuda_visible_devices"] == "3"
    assert trials[0].user_attrs["worker"].startswith("g3@")


@pytest.mark.gpu
def test_mixed_precision_on_a_real_gpu() -> None:
    require(
        _gpus_visible(), "no GPU visible to TensorFlow on this machine", strict=os.environ.get("HPO_REQUIRE_GPU") == "1"
    )
    code = (
        "from hpo.workers.process import configure_tensorflow; import keras; "
        "print(configure_tensorflow(mixed_precision=True), keras.mixed_precision.global_policy().name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("mixed_float16"), out


def test_a_trial_trains_under_the_mixed_float16_policy(synth_dir: Path, prepared: Path, tmp_path: Path) -> None:
    """What a GPU worker runs with mixed_precision = true, forced here on a CPU: trials
    complete, the policy survives each trial's `clear_session`, probabilities stay float32."""
    import keras

    from hpo.config import load_config
    from hpo.data import load_prepared
    from hpo.model.cnn import build_cnn
    from hpo.model.space import BASELINE
    from hpo.study.objective import Objective

    config = load_config(write_study(tmp_path, "mp", synth_dir, training={"max_epochs": 2}))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        study = optuna.create_study(direction="maximize")
        study.optimize(Objective(config, load_prepared(prepared)), n_trials=2)
        model = build_cnn(BASELINE, 4, 32)
        assert model.get_layer("conv0").compute_dtype == "float16" and model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2  # the policy outlived each trial's cleanup
