"""hpo.model.backbones: keras.applications backbones (weights=None: no network here), the freezing
rule, the export round trips, and the per-variable learning-rate factor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from hpo.errors import ConfigError, WeightsUnavailable
from hpo.model.backbones import (
    BACKBONES,
    MIN_INPUT_SIZE,
    TUNABLE_LAYERS,
    WEIGHT_FILES,
    build_backbone_classifier,
    scale_learning_rate,
)

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = list(BACKBONES)


def _build(family: str, image_size: int = 32, input_size: int | None = 32, fine_tune_layers: int = 4) -> Any:
    return build_backbone_classifier(
        family,
        num_classes=3,
        image_size=image_size,
        input_size=input_size,
        weights=None,
        fine_tune_layers=fine_tune_layers,
        dense_units=8,
        dropout=0.2,
        l2=1e-4,
    )


def _backbone(model: keras.Model) -> keras.Model:
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def _images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype("float32")


def _is_bn(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


def _positions(backbone: keras.Model, trainable_only: bool) -> list[int]:
    """Indices of the backbone's weight-holding non-BN layers (its "tunable" layers when built
    fully unfrozen), or of those that train now."""
    return [
        i
        for i, layer in enumerate(backbone.layers)
        if layer.trainable_weights and not _is_bn(layer) and (layer.trainable or not trainable_only)
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_architecture_freezing_and_input_scaling(family: str) -> None:
    full, everything = _build(family, fine_tune_layers=10_000)  # more than it has: all of them
    tunable = _positions(_backbone(full), trainable_only=False)
    assert len(tunable) == TUNABLE_LAYERS[family]
    assert len(everything) == sum(len(_backbone(full).layers[i].trainable_weights) for i in tunable)

    model, variables = _build(family, fine_tune_layers=5)
    backbone = _backbone(model)
    assert type(backbone).__name__ == "Functional" and backbone.input_shape == (None, 32, 32, 3)
    assert model.get_layer("probs").dtype_policy.name == "float32" and model.output_shape == (None, 3)
    assert model.get_layer("probs").kernel_regularizer is not None
    # the last 5 weight-holding non-BN layers train; nothing else in the backbone does, BN never
    assert _positions(backbone, trainable_only=True) == tunable[-5:]
    assert not any(layer.trainable_weights for layer in backbone.layers if _is_bn(layer))
    trains = {id(v) for i in tunable[-5:] for v in backbone.layers[i].trainable_weights}
    assert {id(v) for v in variables} == trains == {id(v) for v in backbone.trainable_weights}
    head = {id(v) for name in ("dense", "probs") for v in model.get_layer(name).trainable_weights}
    assert {id(v) for v in model.trainable_weights} == trains | head

    # the backbone scales hpo's 0-255 input itself (its first layers, before the first conv)
    first_conv = next(i for i, layer in enumerate(backbone.layers) if isinstance(layer, keras.layers.Conv2D))
    x = np.array([[[[0, 127.5, 255]]]], "float32")
    for layer in backbone.layers[1:first_conv]:
        x = np.asarray(layer(x))
    imagenet = (np.array([0, 0.5, 1]) - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)
    np.testing.assert_allclose(x.ravel(), [-1.0, 0.0, 1.0] if "mobilenet" in family else imagenet, atol=1e-5)


def test_feature_extraction_only_and_no_dense_layer() -> None:
    model, variables = build_backbone_classifier(
        "mobilenet_v3_small", num_classes=2, image_size=40, input_size=None, weights=None,
        fine_tune_layers=0, dense_units=0, dropout=0.0,
    )  # fmt: skip
    assert variables == [] and _backbone(model).trainable_weights == []
    assert [layer.name for layer in model.layers if layer.trainable_weights] == ["probs"]
    assert _backbone(model).input_shape == (None, 40, 40, 3) and "resize" not in [layer.name for layer in model.layers]


def test_mixed_precision_keeps_float32_probabilities() -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model, _ = _build("mobilenet_v3_small", input_size=36)
        assert _backbone(model).get_layer("conv_1").compute_dtype == "float16"
        probs = model(_images(2), training=False)
        assert probs.dtype == "float32"
        np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown backbone 'resnet9'; known: mobilenet_v3_small, .*_v2_b0"):
        _build("resnet9")
    with pytest.raises(ConfigError, match=rf"input_size 31 is below the minimum {MIN_INPUT_SIZE}"):
        _build("mobilenet_v3_small", input_size=31)
    with pytest.raises(ConfigError, match=r"input_size 16 is below"):  # no input_size: the images' own
        _build("mobilenet_v3_small", image_size=16, input_size=None)
    _build("mobilenet_v3_small", image_size=16, input_size=32)  # small images resized up are fine
    with pytest.raises(ConfigError, match="weights file not found"):
        build_backbone_classifier(
            "mobilenet_v3_small", num_classes=2, image_size=32, input_size=None, weights="/nonexistent.h5",
            fine_tune_layers=0, dense_units=0, dropout=0.0,
        )  # fmt: skip


def _calibrate_batchnorm(backbone: keras.Model, x: np.ndarray) -> None:
    """Moving statistics = one batch's statistics. With weights=None they are 0/1, and a random
    MobileNetV3 in inference mode then has features ~1e-11 and gradients ~1e-14 (or 0): nothing
    would visibly train. Pretrained weights don't need this."""
    bns = [layer for layer in backbone.layers if _is_bn(layer)]
    momenta = [layer.momentum for layer in bns]
    for layer in bns:
        layer.trainable, layer.momentum = True, 0.0
    backbone(x, training=True)
    for layer, momentum in zip(bns, momenta, strict=True):
        layer.trainable, layer.momentum = False, momentum


# one backbone per keras.applications builder, to keep this under a minute and a half on 2 CPUs
# (Large and B1 are Small's and B0's code with other sizes; the architecture test builds them);
# mobilenet_v3_small at 48 px covers the Resizing layer
@pytest.mark.slow
@pytest.mark.parametrize(("family", "input_size"), [("mobilenet_v3_small", 48), ("efficientnet_v2_b0", 32)])
def test_fine_tune_one_epoch_then_export_and_reload(family: str, input_size: int, tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model, variables = _build(family, input_size=input_size, fine_tune_layers=6)
    backbone = _backbone(model)
    assert ("resize" in [layer.name for layer in model.layers]) == (input_size != 32)
    x, y = _images(40, seed=1), np.random.default_rng(2).integers(0, 3, 40)
    _calibrate_batchnorm(backbone, keras.layers.Resizing(input_size, input_size)(x))
    before = {id(v): np.array(v.numpy()) for v in model.weights}
    # as hpo does: a trainer sharing the weights is compiled, the inference model never is
    trainer = keras.Model(inputs := keras.Input(model.input_shape[1:]), model(inputs))
    trainer.compile(
        optimizer=scale_learning_rate(keras.optimizers.Adam(1e-3), variables, 0.1),
        loss="sparse_categorical_crossentropy",
    )
    trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)
    moved = {id(v) for v in model.weights if not np.array_equal(before[id(v)], v.numpy())}
    trained = {id(v) for v in variables}
    assert len(trained) >= 6 and trained <= moved  # every unfrozen backbone weight changed
    assert not moved & {id(v) for layer in backbone.layers if _is_bn(layer) for v in layer.weights}  # BN: no stats
    assert not moved & ({id(v) for v in backbone.weights} - trained)  # frozen layers did not move
    assert {id(v) for v in model.get_layer("probs").weights} <= moved

    # the inference model: its SavedModel and .keras file reproduce it
    x = x[:4]
    expected = np.asarray(model(x, training=False))
    model.export(tmp_path / "saved", format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))  # keep a reference: serve() needs its variables
    assert np.abs(np.asarray(reloaded.serve(tf.constant(x))) - expected).max() <= 1e-5
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert np.abs(np.asarray(loaded(x, training=False)) - expected).max() <= 1e-5
    np.testing.assert_allclose(np.asarray(model(x.astype("uint8"), training=False)), expected, atol=1e-5)


def _tiny(seed: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])


def _one_step(make: Any, scale: float | None, loss_scale: bool, jit: bool) -> tuple[keras.Model, list[np.ndarray]]:
    """One fit step of the tiny model, layer ``a``'s variables scaled by ``scale`` (None: plain
    optimizer); ``loss_scale``: wrapped in a LossScaleOptimizer, as mixed_float16's compile does."""
    model = _tiny()
    start = [np.array(w) for w in model.get_weights()]
    optimizer = make()
    if scale is not None:
        optimizer = scale_learning_rate(optimizer, model.get_layer("a").trainable_weights, scale)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit)  # XLA: what "auto" picks on a GPU
    x = np.random.default_rng(4).normal(size=(8, 4)).astype("float32")
    model.fit(x, np.arange(8) % 2, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return model, [w - s for w, s in zip(model.get_weights(), start, strict=True)]


OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd_weight_decay": lambda: keras.optimizers.SGD(0.1, weight_decay=0.5),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    "adam_cosine": lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, decay_steps=10)),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize(
    ("name", "loss_scale", "jit"),
    [(name, False, False) for name in OPTIMIZERS]
    + [("sgd", True, False), ("adamw", True, False), ("adamw", False, True)],
)
def test_scaled_learning_rate_moves_marked_variables_scale_times_as_far(name: str, loss_scale: bool, jit: bool) -> None:
    _, reference = _one_step(OPTIMIZERS[name], None, loss_scale, jit)
    model, scaled = _one_step(OPTIMIZERS[name], 0.1, loss_scale, jit)
    inner = model.optimizer.inner_optimizer if loss_scale else model.optimizer
    assert type(inner).__name__ == f"LrScaled{type(OPTIMIZERS[name]()).__name__}"
    # a.kernel, a.bias: 0.1x as far; b.kernel, b.bias: as far as without scaling
    for delta, ref, factor in zip(scaled, reference, [0.1, 0.1, 1.0, 1.0], strict=True):
        assert np.abs(ref).min() > 1e-6
        # SGD: lr * 0.1 * g vs lr * g, to the float32 rounding of w - step (atol: 2 ulp of |w| < 1);
        # Adam & co.: epsilon shifts it a little
        sgd = name.startswith("sgd")
        np.testing.assert_allclose(delta, factor * ref, rtol=1e-6 if sgd else 1e-4, atol=1.2e-7 if sgd else 0)


def test_scale_learning_rate_refuses_wrappers_and_built_optimizers() -> None:
    model = _tiny()
    with pytest.raises(ConfigError, match="cannot scale"):
        scale_learning_rate(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()), model.weights, 0.1)
    with pytest.raises(ConfigError, match="cannot scale"):
        scale_learning_rate(keras.optimizers.SGD(), model.weights, -1.0)
    used = keras.optimizers.SGD()
    used.build(model.trainable_weights)
    with pytest.raises(ValueError, match="not built"):
        scale_learning_rate(used, model.weights, 0.1)


OFFLINE = textwrap.dedent(
    """
    import json
    from hpo.model.backbones import BACKBONES, build_backbone_classifier
    from hpo.errors import WeightsUnavailable
    for family in BACKBONES:
        try:
            build_backbone_classifier(family, num_classes=2, image_size=32, input_size=None, weights="imagenet",
                                      fine_tune_layers=0, dense_units=0, dropout=0.0)
        except WeightsUnavailable as exc:
            print("RESULT", json.dumps([family, str(exc), str(exc.__cause__)]))
    """
)


@pytest.mark.slow
def test_imagenet_weights_offline_is_one_line_saying_how_to_fetch_them(tmp_path: Path) -> None:
    # nothing listens on port 9: every download fails at once, with or without a network
    proxy = "http://127.0.0.1:9"
    env = {**os.environ, "KERAS_HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3", "NO_PROXY": "", "no_proxy": ""}
    env.update({name: proxy for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")})
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert [family for family, _, _ in results] == FAMILIES, proc.stderr[-2000:]
    for family, message, cause in results:
        file = WEIGHT_FILES[family]
        assert "\n" not in message
        assert message.startswith(f"{family}: ImageNet weights {file} are not in {tmp_path / 'models'}")
        assert f"keras.applications.{BACKBONES[family]}(weights='imagenet', include_top=False)" in message
        assert cause.startswith("URL fetch failure on https://") and file in cause  # the file Keras asked for
    assert list((tmp_path / "models").iterdir()) == []  # no partial download left behind
    assert "Weights for input shape" not in proc.stderr  # MobileNetV3's 224 px warning is silenced
    assert not issubclass(WeightsUnavailable, ConfigError)
