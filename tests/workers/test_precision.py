"""Mixed precision on a CPU: bfloat16 only where the CPU has the instructions for it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from hpo.model.cnn import build_cnn, compile_model, make_optimizer
from hpo.model.space import BASELINE
from hpo.workers.process import cpu_has_bf16

_CPUINFO = "processor\t: {n}\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 {extra}\n\n"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [("avx512f avx512_bf16", True), ("amx_tile amx_bf16", True), ("avx512f avx512bw", False), ("", False)],
)
def test_bf16_is_read_from_the_cpu_flags(tmp_path: Path, extra: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(_CPUINFO.format(n=0, extra=extra) + _CPUINFO.format(n=1, extra=extra))
    assert cpu_has_bf16(cpuinfo) is expected


def test_no_cpuinfo_means_no_bf16(tmp_path: Path) -> None:
    assert cpu_has_bf16(tmp_path / "missing") is False  # macOS, Windows: float32


def test_the_seed_cnn_trains_under_mixed_bfloat16() -> None:
    """What a worker runs when it picks bfloat16 (emulated on a CPU without it: slow, but right)."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_cnn(BASELINE, num_classes=3, image_size=16)
        compile_model(model, BASELINE, make_optimizer(BASELINE, steps_per_epoch=2, epochs=1))
        assert model.get_layer(index=1).compute_dtype == "bfloat16"
        rng = np.random.default_rng(0)
        images, labels = rng.random((16, 16, 16, 3), dtype=np.float32), rng.integers(0, 3, 16)
        history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        probs = model(images[:2], training=False)
        assert probs.dtype == "float32"
        np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")
