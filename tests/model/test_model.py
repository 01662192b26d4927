from __future__ import annotations

import keras
import numpy as np
import pytest

from hpo.model.cnn import build_cnn, compile_model, make_optimizer, with_augmentation
from hpo.model.space import BASELINE, CNNParams


def _layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_baseline_architecture() -> None:
    model = build_cnn(BASELINE, num_classes=10, image_size=32)
    types = _layer_types(model)
    assert types[:2] == ["InputLayer", "Rescaling"]
    assert types.count("Conv2D") == 2 and types.count("MaxPooling2D") == 2
    assert types.count("BatchNormalization") == 2 and types.count("Dense") == 2
    assert model.get_layer("dropout").rate == 0.5
    assert [model.get_layer(f"conv{i}").filters for i in range(2)] == [32, 64]
    assert model.output_shape == (None, 10)
    # 32 px -> two 2x2 pools -> 8x8x64 flattened into dense 128
    assert model.get_layer("dense").kernel.shape == (8 * 8 * 64, 128)


def test_rescaling_means_raw_pixels_in() -> None:
    model = build_cnn(BASELINE, num_classes=3, image_size=16)
    probs = model.predict(np.full((2, 16, 16, 3), 255, np.uint8), verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_augmentation_wraps_but_never_enters_the_inference_model() -> None:
    params = CNNParams(augment=0.5, flip=True, crop=2, dropout=0.0, batch_norm=False)
    model = build_cnn(params, num_classes=3, image_size=16)
    trainer = with_augmentation(model, params.augmentation)
    assert "RandomFlip" in _layer_types(trainer) and "RandomFlip" not in _layer_types(model)
    plain = with_augmentation(model, CNNParams().augmentation)
    assert "RandomFlip" not in _layer_types(plain) and plain is not model
    x = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3)).astype("float32")
    # called without a training flag (as a serving function does), the inference model is deterministic
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    # the trainer augments in training mode only, and shares the model's weights
    np.testing.assert_allclose(np.asarray(trainer(x, training=False)), np.asarray(model(x)), rtol=1e-6)
    assert not np.allclose(np.asarray(trainer(x, training=True)), np.asarray(model(x)))
    assert {id(w) for w in model.weights} <= {id(w) for w in trainer.weights}


def test_regularizers_reach_every_kernel() -> None:
    model = build_cnn(CNNParams(l1=1e-4, l2=1e-3), num_classes=3, image_size=16)
    for name in ("conv0", "conv1", "dense", "probs"):
        reg = model.get_layer(name).kernel_regularizer
        assert reg is not None and reg.l1 == pytest.approx(1e-4) and reg.l2 == pytest.approx(1e-3)


def test_deep_nets_stop_pooling_at_one_pixel() -> None:
    model = build_cnn(CNNParams(depth=6, base_filters=8), num_classes=2, image_size=16)
    assert _layer_types(model).count("MaxPooling2D") == 4


@pytest.mark.parametrize(
    ("optimizer", "decay", "cls"),
    [("rmsprop", "none", "RMSprop"), ("adam", "exponential", "Adam"), ("sgd", "cosine", "SGD")],
)
def test_optimizers_and_schedules(optimizer: str, decay: str, cls: str) -> None:
    opt = make_optimizer(CNNParams(optimizer=optimizer, lr_decay=decay, learning_rate=0.01).recipe, 10, 5)
    assert type(opt).__name__ == cls
    lr = opt.learning_rate
    if decay == "none":
        assert float(lr) == pytest.approx(0.01)
    else:
        sched = opt._learning_rate
        assert float(sched(0)) == pytest.approx(0.01)
        assert float(sched(49)) < 0.01


def test_compiled_model_trains_one_step() -> None:
    model = compile_model(build_cnn(BASELINE, 2, 16), BASELINE.recipe, make_optimizer(BASELINE.recipe, 1, 1))
    x = np.random.default_rng(0).integers(0, 255, (8, 16, 16, 3)).astype("uint8")
    hist = model.fit(x, np.arange(8) % 2, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_gap_head_and_adamw() -> None:
    params = CNNParams(head="gap", optimizer="adamw", weight_decay=1e-3)
    model = build_cnn(params, num_classes=4, image_size=32)
    assert "GlobalAveragePooling2D" in _layer_types(model) and "Flatten" not in _layer_types(model)
    assert model.get_layer("dense").kernel.shape == (64, 128)  # channels only, no spatial grid
    opt = make_optimizer(params.recipe, 10, 5)
    assert type(opt).__name__ == "AdamW" and opt.weight_decay == pytest.approx(1e-3)


def test_label_smoothing_matches_the_smoothed_targets() -> None:
    from hpo.model.cnn import SparseSmoothedCrossentropy

    loss = SparseSmoothedCrossentropy(num_classes=4, label_smoothing=0.2)
    probs = np.array([[0.7, 0.1, 0.1, 0.1]], np.float32)
    # targets: 0.8 * onehot + 0.2 / 4 = [0.85, 0.05, 0.05, 0.05]
    expected = -(0.85 * np.log(0.7) + 3 * 0.05 * np.log(0.1))
    assert float(loss(np.array([0]), probs)) == pytest.approx(expected, rel=1e-5)
    smooth = CNNParams(label_smoothing=0.1).recipe
    trainer = compile_model(build_cnn(CNNParams(label_smoothing=0.1), 4, 16), smooth, make_optimizer(smooth, 1, 1))
    assert isinstance(trainer.loss, SparseSmoothedCrossentropy)


def test_flip_and_crop_are_their_own_switches() -> None:
    model = build_cnn(CNNParams(), num_classes=3, image_size=16)
    only_flip = _layer_types(with_augmentation(model, CNNParams(flip=True).augmentation))
    assert only_flip.count("RandomFlip") == 1 and "RandomTranslation" not in only_flip
    crop = with_augmentation(model, CNNParams(crop=4).augmentation)
    shift = next(layer for layer in crop.layers if type(layer).__name__ == "RandomTranslation")
    assert "RandomFlip" not in _layer_types(crop) and shift.height_factor == pytest.approx(4 / 16)
    x = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3)).astype("float32")
    shifted = np.asarray(shift(x, training=True))
    assert np.isin(shifted, x).all()  # whole-pixel shifts with reflected borders: no interpolated values


def test_vgg_and_residual_blocks() -> None:
    vgg = build_cnn(CNNParams(convs=2, depth=2, base_filters=8), num_classes=3, image_size=16)
    assert _layer_types(vgg).count("Conv2D") == 4 and {"conv0", "conv0_1", "conv1_1"} <= {ly.name for ly in vgg.layers}
    res = build_cnn(CNNParams(convs=2, residual=True, depth=2, base_filters=8), num_classes=3, image_size=16)
    names = {layer.name for layer in res.layers}
    assert {"add0", "add1", "project0", "project1"} <= names  # 3 -> 8 and 8 -> 16 channels need a projection
    same = build_cnn(CNNParams(residual=True, depth=1, base_filters=3), num_classes=3, image_size=16)
    assert "project0" not in {layer.name for layer in same.layers}  # 3 -> 3: the identity
    # the baseline is unchanged: one conv per block, no residual, the same layer names and sizes
    assert build_cnn(BASELINE, 10, 32).count_params() == 545_386
