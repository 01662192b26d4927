"""`build_cnn(params, num_classes, image_size)`: the Keras 3 CNN a trial trains.

Input: float or uint8 images, 0-255, ``[N, S, S, 3]``. Layers: ``Rescaling(1/255)``;
``depth`` x [``convs`` x (Conv 3x3 -> BatchNorm? -> ReLU), + the block's input when
``residual`` -> MaxPool]; Flatten or global average pooling; Dense -> ReLU; Dropout; Dense
softmax. L1/L2 penalties on every kernel. The seed's baseline is ``convs=1``, no residual.

Augmentation (random flip, pad-and-crop shifts, and shift/rotation/zoom scaled by ``augment``) lives in a
separate wrapper, `with_augmentation`, that is trained but never exported: Keras's random
layers default to ``training=True`` when called without a training flag (as
``Model.export``'s serving function does), so keeping them out of the inference model is
the only way to guarantee a deterministic SavedModel.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from hpo.config.schema import TrainingConfig
from hpo.model.space import Augmentation, CNNParams, Recipe

__all__ = ["build_cnn", "compile_model", "inference_accuracy", "make_optimizer", "with_augmentation"]

EXP_DECAY_PER_EPOCH = 0.9


def _augmentation(aug: Augmentation, size: int) -> list[keras.layers.Layer]:
    layers: list[keras.layers.Layer] = []
    if aug.flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if aug.crop > 0:  # pad-and-crop: whole-pixel shifts, the border reflected
        shift = aug.crop / size
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="reflect", interpolation="nearest"))
    if aug.strength > 0:
        s = aug.strength
        layers += [
            keras.layers.RandomTranslation(0.25 * s, 0.25 * s, fill_mode="reflect"),
            keras.layers.RandomRotation(0.1 * s, fill_mode="reflect"),
            keras.layers.RandomZoom(0.3 * s, fill_mode="reflect"),
        ]
    return layers


def _conv(x: Any, filters: int, name: str, params: CNNParams, reg: Any) -> Any:
    """Conv 3x3 -> BatchNorm (when on) -> ReLU."""
    x = keras.layers.Conv2D(
        filters, 3, padding="same", use_bias=not params.batch_norm, kernel_regularizer=reg, name=f"conv{name}"
    )(x)
    if params.batch_norm:
        x = keras.layers.BatchNormalization(name=f"bn{name}")(x)
    return keras.layers.ReLU(name=f"relu{name}")(x)


def build_cnn(params: CNNParams, num_classes: int, image_size: int) -> keras.Model:
    """The inference model for ``params`` (not compiled; see `compile_cnn`)."""
    reg = keras.regularizers.L1L2(l1=params.l1, l2=params.l2) if params.l1 or params.l2 else None
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="scale_0_1")(inputs)
    side = image_size
    for i, filters in enumerate(params.filters()):
        block_input = x
        for j in range(params.convs):  # the baseline's names (conv0, bn0, relu0) for one conv
            x = _conv(x, filters, f"{i}" if j == 0 else f"{i}_{j}", params, reg)
        if params.residual:
            if block_input.shape[-1] != filters:
                block_input = keras.layers.Conv2D(filters, 1, kernel_regularizer=reg, name=f"project{i}")(block_input)
            x = keras.layers.Add(name=f"add{i}")([x, block_input])
        if side >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
            side //= 2
    if params.head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(params.dense_units, kernel_regularizer=reg, name="dense")(x)
    x = keras.layers.ReLU(name="relu_dense")(x)
    x = keras.layers.Dropout(params.dropout, name="dropout")(x)
    # float32 probabilities under a mixed_float16 policy too (Keras's rule for the last layer)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=reg, dtype="float32", name="probs"
    )(x)
    return keras.Model(inputs, outputs, name="cnn")


def with_augmentation(model: keras.Model, aug: Augmentation) -> keras.Model:
    """The model to train and compile: ``model`` behind the augmentation layers (none when
    ``aug`` is all off). Weights are shared, so training it trains ``model``, which itself is
    never compiled and so saves without any training-only objects."""
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in _augmentation(aug, int(model.input_shape[1])):
        x = layer(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_trainer")


class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Keras's sparse loss has none)."""

    def __init__(self, num_classes: int, label_smoothing: float) -> None:
        super().__init__(name="smoothed_crossentropy")
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true: Any, y_pred: Any) -> Any:
        onehot = keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,)), self.num_classes)
        return keras.losses.categorical_crossentropy(onehot, y_pred, label_smoothing=self.label_smoothing)


def make_optimizer(params: Recipe, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    """Optimizer with the learning-rate schedule of ``params.lr_decay``."""
    lr: float | keras.optimizers.schedules.LearningRateSchedule = params.learning_rate
    if params.lr_decay == "exponential":
        lr = keras.optimizers.schedules.ExponentialDecay(
            params.learning_rate,
            decay_steps=max(steps_per_epoch, 1),
            decay_rate=EXP_DECAY_PER_EPOCH,
        )
    elif params.lr_decay == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(params.learning_rate, decay_steps=max(steps_per_epoch * epochs, 1))
    if params.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if params.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=params.weight_decay)
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)
    return keras.optimizers.RMSprop(lr)


def compile_model(model: keras.Model, params: Recipe, optimizer: keras.optimizers.Optimizer) -> keras.Model:
    """Compile (the trainer) with ``optimizer`` (made from ``params`` by `make_optimizer`) and
    the loss of ``params``."""
    loss: Any = "sparse_categorical_crossentropy"
    if params.label_smoothing > 0:
        loss = SparseSmoothedCrossentropy(model.output_shape[-1], params.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def inference_accuracy(
    model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = TrainingConfig.eval_batch_size
) -> float:
    """Accuracy of ``model`` on ``x``/``y`` in inference mode (no dropout, no augmentation):
    measured on the training images, it makes the train-val/test gap measure overfitting
    rather than regularization noise."""
    if len(y) == 0:
        return float("nan")
    return float(np.mean(np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).argmax(1) == y))
