"""BatchNorm statistics re-estimated before every evaluation ("precise BN").

Keras keeps BatchNorm's inference statistics as an exponential moving average (momentum
0.99, a ~100-step memory) of batch statistics taken while the weights move. Early in
training the weights move fast, so those averages describe a network that no longer exists:
on cifar10-mini the seed baseline scored 0.11 val accuracy after epoch 1 with them and 0.23
with statistics recomputed for the current weights (0.33 vs 0.43 after epoch 8, identical
training; BENCHMARKS.md, "BatchNorm statistics"). That noise decided which trials a pruner
kept and which epoch a retrain exported.

`BatchNormCalibrator` recomputes them for the current weights — the mean of per-batch
statistics over a fixed sample of clean training images, as in Wu & Johnson, "Rethinking
'Batch' in BatchNorm" (2021) — and `RecalibrateBatchNorm` does it right before each
validation pass inside ``fit`` (``on_test_begin``), so val accuracy, early stopping's
restored weights and the pruner all see the network as it will be exported. Only the
non-trainable moving mean and variance change.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from hpo.config.schema import TrainingConfig
from hpo.data.prepared import PreparedData

__all__ = ["BatchNormCalibrator", "RecalibrateBatchNorm", "recalibration_sample"]


def recalibration_sample(data: PreparedData, splits: str | tuple[str, ...], n: int, seed: int) -> np.ndarray:
    """``n`` images of ``splits`` (all when fewer), drawn without replacement, seeded."""
    idx = data.indices(*((splits,) if isinstance(splits, str) else splits))
    if n < len(idx):
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=n, replace=False))
    return np.asarray(data.images[idx])


class BatchNormCalibrator:
    """Sets the moving mean/variance of every BatchNorm layer of a functional ``model`` to
    the average batch statistics of its inputs over some images (uint8 or float, 0-255).

    One compiled probe per model returns each BN layer's input moments per batch (in
    training mode, as during ``fit``): 512 images cost ~0.2 s for the seed baseline at 32 px on
    2 CPUs, ~3 % of a cifar10-mini epoch. Build one calibrator per model, call it often."""

    def __init__(self, model: keras.Model, batch_size: int = TrainingConfig.eval_batch_size) -> None:
        self.layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        self.batch_size = batch_size
        if self.layers:
            probe = keras.Model(model.inputs, [layer.input for layer in self.layers])

            def moments(x: tf.Tensor) -> list[tuple[tf.Tensor, tf.Tensor]]:
                outs = probe(tf.cast(x, tf.float32), training=True)
                outs = outs if isinstance(outs, list | tuple) else [outs]
                return [tf.nn.moments(o, axes=list(range(len(o.shape) - 1))) for o in outs]

            self._moments = tf.function(moments, reduce_retracing=True)

    def __call__(self, images: np.ndarray) -> int:
        """Recalibrate on ``images``; returns the number of BatchNorm layers set."""
        if not self.layers or len(images) == 0:
            return 0
        sums: list[list[np.ndarray]] = [[np.zeros(()), np.zeros(())] for _ in self.layers]
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            for acc, (mean, var) in zip(sums, self._moments(tf.constant(batch)), strict=True):
                acc[0] = acc[0] + len(batch) * mean.numpy()
                acc[1] = acc[1] + len(batch) * var.numpy()
        for layer, (mean_sum, var_sum) in zip(self.layers, sums, strict=True):
            layer.moving_mean.assign(mean_sum / len(images))
            layer.moving_variance.assign(var_sum / len(images))
        return len(self.layers)


class RecalibrateBatchNorm(keras.callbacks.Callback):
    """Recalibrates ``model``'s BatchNorm statistics on ``images`` before every validation
    pass of ``fit`` (Keras runs ``on_test_begin`` between an epoch's last step and its
    validation); a no-op for networks without BatchNorm."""

    def __init__(self, model: keras.Model, images: np.ndarray) -> None:
        super().__init__()
        self.calibrate, self.images = BatchNormCalibrator(model), images

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.calibrate(self.images)
