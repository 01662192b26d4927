from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from hpo.data import load_prepared
from hpo.data.pipeline import make_dataset
from hpo.model.batchnorm import BatchNormCalibrator, RecalibrateBatchNorm, recalibration_sample
from hpo.model.cnn import build_cnn, compile_model, make_optimizer, with_augmentation
from hpo.model.space import BASELINE, CNNParams


def _moving_stats(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.non_trainable_weights]


def test_calibration_sets_the_average_batch_moments_and_nothing_else() -> None:
    keras.utils.set_random_seed(0)
    model = build_cnn(BASELINE, num_classes=3, image_size=16)
    images = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    trainable = [np.asarray(w) for w in model.trainable_weights]
    assert BatchNormCalibrator(model, batch_size=16)(images) == 2  # batches of 16, 16 and 8

    conv0 = keras.Model(model.input, model.get_layer("conv0").output)  # bn0's input
    batches = [np.asarray(conv0(images[i : i + 16].astype("float32"))) for i in range(0, 40, 16)]
    weights = [len(b) / 40 for b in batches]
    mean = sum(w * b.mean(axis=(0, 1, 2)) for w, b in zip(weights, batches, strict=True))
    var = sum(w * b.var(axis=(0, 1, 2)) for w, b in zip(weights, batches, strict=True))
    bn0 = model.get_layer("bn0")
    np.testing.assert_allclose(np.asarray(bn0.moving_mean), mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(bn0.moving_variance), var, rtol=1e-4, atol=1e-6)
    assert not np.allclose(np.asarray(model.get_layer("bn1").moving_variance), 1.0)  # set from its own inputs
    for before, after in zip(trainable, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(before, np.asarray(after))
    assert bn0.momentum == 0.99


def test_without_batchnorm_there_is_nothing_to_calibrate() -> None:
    model = build_cnn(CNNParams(batch_norm=False), num_classes=3, image_size=16)
    assert BatchNormCalibrator(model)(np.zeros((4, 16, 16, 3), np.uint8)) == 0


def test_fit_validates_with_freshly_calibrated_statistics(prepared: Path) -> None:
    """The callback runs between an epoch's last step and its validation: after ``fit`` the
    moving statistics are exactly a calibration's, not the training-time moving averages."""
    data = load_prepared(prepared)
    sample = recalibration_sample(data, "train", 24, seed=0)
    assert sample.shape == (24, 32, 32, 3) and sample.dtype == np.uint8
    np.testing.assert_array_equal(sample, recalibration_sample(data, "train", 24, seed=0))
    assert len(recalibration_sample(data, "val", 10_000, seed=0)) == len(data.splits["val"])

    keras.utils.set_random_seed(0)
    model = build_cnn(BASELINE, data.num_classes, data.image_size)
    optimizer = make_optimizer(BASELINE.recipe, math.ceil(len(data.splits["train"]) / 8), 2)
    trainer = compile_model(with_augmentation(model, BASELINE.augmentation), BASELINE.recipe, optimizer)
    history = trainer.fit(
        make_dataset(data, "train", 8, shuffle=True),
        validation_data=make_dataset(data, "val", 32),
        epochs=2,
        verbose=0,
        callbacks=[RecalibrateBatchNorm(model, sample)],
        shuffle=False,  # the dataset shuffles; Keras warns that it ignores shuffle=True for datasets
    )
    after_fit = _moving_stats(model)
    BatchNormCalibrator(model)(sample)
    for fitted, calibrated in zip(after_fit, _moving_stats(model), strict=True):
        np.testing.assert_allclose(fitted, calibrated, rtol=1e-5, atol=1e-6)
    # and the logged val accuracy is that of the calibrated network
    x_val, y_val = data.arrays("val")
    correct = np.float32(np.sum(model.predict(x_val, verbose=0).argmax(1) == y_val))
    assert np.float32(history.history["val_accuracy"][-1]) == correct / np.float32(len(y_val))
