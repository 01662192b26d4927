"""Pretrained ``keras.applications`` backbones as a model family: transfer learning and fine-tuning.

`build_backbone_classifier` returns the inference model
``image -> [Resizing] -> backbone(training=False) -> Dropout -> [Dense relu] -> Dense softmax``
and the backbone variables left trainable; `scale_learning_rate` gives those variables a smaller
learning rate than the new head (discriminative fine-tuning; Keras 3 optimizers have no
per-variable learning rate).

Every listed backbone takes hpo's input contract as it is: RGB, 0-255, float or uint8. Its own
first layers (``include_preprocessing=True``, the default) do the scaling, so it is saved and
exported with the model: MobileNetV3 ``Rescaling(1/127.5, offset=-1)`` (-> [-1, 1]);
EfficientNetV2-B* ``Rescaling(1/255)`` + ``Normalization`` with the ImageNet mean/std. (ResNet50
is not listed: it has no preprocessing layer and expects Caffe-style BGR minus the mean.)

Pretrained weights (``weights="imagenet"``) are downloaded by Keras into `weights_dir`
(``$KERAS_HOME/models``, default ``~/.keras/models``) on first use and read from there after;
when they are neither there nor downloadable, `WeightsUnavailable` says how to put them there.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from hpo.errors import ConfigError, WeightsUnavailable

__all__ = [
    "BACKBONES",
    "MIN_INPUT_SIZE",
    "TUNABLE_LAYERS",
    "WEIGHT_FILES",
    "build_backbone_classifier",
    "load_weights_error",
    "scale_learning_rate",
    "weights_dir",
]

# family -> keras.applications class
BACKBONES: dict[str, str] = {
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "efficientnet_v2_b0": "EfficientNetV2B0",
    "efficientnet_v2_b1": "EfficientNetV2B1",
}
# the ImageNet file Keras fetches for include_top=False (keras/src/applications/*.py)
WEIGHT_FILES: dict[str, str] = {
    "mobilenet_v3_small": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    "mobilenet_v3_large": "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
    "efficientnet_v2_b0": "efficientnetv2-b0_notop.h5",
    "efficientnet_v2_b1": "efficientnetv2-b1_notop.h5",
}
# layers holding trainable weights, BatchNormalization excluded: the largest useful fine_tune_layers
TUNABLE_LAYERS: dict[str, int] = {
    "mobilenet_v3_small": 52,
    "mobilenet_v3_large": 62,
    "efficientnet_v2_b0": 91,
    "efficientnet_v2_b1": 111,
}
# keras.applications refuses a side below 32 for every listed backbone (MobileNetV3 and obtain_input_shape)
MIN_INPUT_SIZE = 32


def weights_dir() -> Path:
    """Where Keras looks for (and downloads) pretrained weights: ``$KERAS_HOME/models``, with
    ``$KERAS_HOME`` as read when keras was imported (default ``~/.keras``; ``/tmp/.keras`` when
    that is not writable, as ``keras.utils.get_file`` does)."""
    try:
        from keras.src.backend.config import keras_home

        home = str(keras_home())
    except ImportError:  # pragma: no cover - a Keras without the private accessor
        home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    base = os.path.expanduser(home)
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(base) / "models"


def load_weights_error(family: str, exc: BaseException) -> WeightsUnavailable:
    """One line: which backbone, which file, why, and how to pre-download it."""
    cls, file = BACKBONES[family], WEIGHT_FILES[family]
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    where = weights_dir()
    return WeightsUnavailable(
        f"{family}: ImageNet weights {file} are not in {where} and cannot be downloaded ({reason}); "
        f"on a machine with network run `python -c \"import keras; keras.applications.{cls}(weights='imagenet', "
        f'include_top=False)"` once and copy {file} from its ~/.keras/models/ (or $KERAS_HOME/models/) into {where}'
    )


def _is_weights_failure(exc: Exception) -> bool:
    """The errors of fetching/reading the weights file: ``get_file``'s bare ``Exception("URL fetch
    failure on ...")``, its hash mismatch (ValueError), and I/O errors (disk, h5 file)."""
    text = str(exc)
    return isinstance(exc, OSError) or text.startswith("URL fetch failure") or "file hash" in text


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def build_backbone_classifier(
    family: str,
    *,
    num_classes: int,
    image_size: int,
    input_size: int | None,
    weights: str | None,
    fine_tune_layers: int,
    dense_units: int,
    dropout: float,
    l2: float = 0.0,
) -> tuple[keras.Model, list[keras.Variable]]:
    """The inference model (not compiled) and the backbone's trainable variables.

    Input ``(image_size, image_size, 3)``, RGB 0-255, float or uint8 (the backbone scales it
    itself, see the module docstring) -> ``Resizing(input_size)`` (bilinear, a layer so the export
    resizes too) when ``input_size`` is given and differs -> the backbone (``include_top=False``,
    ``pooling="avg"``, ``weights``: ``"imagenet"``, None, or a weights file), called with
    ``training=False`` so its BatchNorm layers (and EfficientNet's stochastic depth) stay in
    inference mode while fine-tuning -> Dropout -> Dense(``dense_units``, relu) when
    ``dense_units`` > 0 -> Dense(``num_classes``, softmax, float32) named ``probs``. L2 on the
    head's kernels when ``l2`` > 0.

    Freezing: the backbone's "tunable layers" are those holding trainable weights, BatchNorm
    excluded (Conv2D, DepthwiseConv2D; `TUNABLE_LAYERS` counts them). The last
    ``fine_tune_layers`` of them (from the output end) train, everything else is frozen, and
    BatchNorm stays frozen everywhere. 0: feature extraction (the variable list is empty);
    more than the backbone has: all of them.
    """
    _check(family in BACKBONES, f"unknown backbone {family!r}; known: {', '.join(BACKBONES)}")
    size = input_size or image_size
    _check(size >= MIN_INPUT_SIZE, f"{family}: input_size {size} is below the minimum {MIN_INPUT_SIZE}")
    _check(num_classes >= 2, f"num_classes must be at least 2, not {num_classes}")
    _check(fine_tune_layers >= 0, f"fine_tune_layers must be >= 0, not {fine_tune_layers}")
    _check(dense_units >= 0, f"dense_units must be >= 0, not {dense_units}")
    _check(0.0 <= dropout < 1.0, f"dropout must be in [0, 1), not {dropout}")
    _check(l2 >= 0.0, f"l2 must be >= 0, not {l2}")
    if weights not in (None, "imagenet"):
        _check(Path(str(weights)).is_file(), f"{family}: weights file not found: {weights}")

    constructor = getattr(keras.applications, BACKBONES[family])
    try:
        with warnings.catch_warnings():  # MobileNetV3's "weights for input shape (224, 224)": right, and harmless
            warnings.filterwarnings("ignore", message=".*Weights for input shape", category=UserWarning)
            backbone = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg")
    except Exception as exc:
        if weights == "imagenet" and _is_weights_failure(exc):
            raise load_weights_error(family, exc) from exc
        raise

    tunable = [
        layer
        for layer in backbone.layers
        if layer.trainable_weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    unfrozen = {id(layer) for layer in tunable[len(tunable) - min(fine_tune_layers, len(tunable)) :]}
    backbone.trainable = bool(unfrozen)  # first: the setter may cascade to every sublayer
    for layer in backbone.layers:
        layer.trainable = id(layer) in unfrozen

    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = inputs
    if size != image_size:
        x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(x)
    x = backbone(x, training=False)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    if dense_units > 0:
        x = keras.layers.Dense(dense_units, activation="relu", kernel_regularizer=reg, name="dense")(x)
    # float32 probabilities under a mixed_float16 policy too (Keras's rule for the last layer)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=reg, dtype="float32", name="probs"
    )(x)
    return keras.Model(inputs, outputs, name=family), list(backbone.trainable_variables)


_SCALED_CLASSES: dict[type[Any], type[Any]] = {}


def _scaled_class(base: type[Any]) -> type[Any]:
    """``base`` (an optimizer class) with a learning-rate factor for some variables (one subclass
    per class)."""
    if base in _SCALED_CLASSES:
        return _SCALED_CLASSES[base]

    def update_step(self: Any, gradient: Any, variable: Any, learning_rate: Any) -> Any:
        # the TF backend passes the tf.Variable behind each keras.Variable; _var_key maps both alike
        if self._var_key(variable) in self._hpo_scaled_keys:
            learning_rate = learning_rate * self._hpo_lr_scale
        return base.update_step(self, gradient, variable, learning_rate)

    def _apply_weight_decay(self: Any, variables: Any) -> None:
        # decoupled weight decay (AdamW, Lion...) is lr * wd: scale it with the learning rate
        if self.weight_decay is None:
            return
        scaled = [v for v in variables if self._var_key(v) in self._hpo_scaled_keys]
        base._apply_weight_decay(self, [v for v in variables if self._var_key(v) not in self._hpo_scaled_keys])
        if scaled:
            decay = self.weight_decay
            self.weight_decay = decay * self._hpo_lr_scale
            try:
                base._apply_weight_decay(self, scaled)
            finally:
                self.weight_decay = decay

    methods = {"update_step": update_step, "_apply_weight_decay": _apply_weight_decay}
    return _SCALED_CLASSES.setdefault(base, type(f"LrScaled{base.__name__}", (base,), methods))


def scale_learning_rate(
    optimizer: keras.optimizers.Optimizer, variables: Sequence[keras.Variable], scale: float
) -> keras.optimizers.Optimizer:
    """A new, unbuilt optimizer of ``optimizer``'s class and config (learning-rate schedule
    included) whose learning rate is multiplied by ``scale`` for ``variables`` only (the
    backbone's, so the pretrained layers move slower than the new head). Decoupled weight decay
    is scaled alike. Give it to ``model.compile``; ``mixed_float16``'s LossScaleOptimizer wraps
    it as any other. It is a dynamic subclass: a compiled model saved with it cannot be loaded
    with its optimizer (the inference model is never compiled, so exports are unaffected)."""
    wrappers = (keras.optimizers.LossScaleOptimizer, getattr(keras.optimizers, "MultiOptimizer", ()))
    if not scale >= 0.0 or isinstance(optimizer, wrappers):  # `not >=`: NaN too
        raise ConfigError(f"cannot scale the learning rate of {type(optimizer).__name__} by {scale}")
    if optimizer.built:
        raise ValueError("scale_learning_rate needs an optimizer that was not built (used) yet")
    config = optimizer.get_config()
    if not isinstance(config["learning_rate"], float):  # a schedule or callable: keep the object
        config["learning_rate"] = optimizer._learning_rate
    scaled = _scaled_class(type(optimizer))(**config)
    scaled._hpo_lr_scale = float(scale)
    scaled._hpo_scaled_keys = frozenset(scaled._var_key(v) for v in variables)
    for name in ("_exclude_from_weight_decay", "_exclude_from_weight_decay_pattern"):  # not in the config
        if hasattr(optimizer, name):
            setattr(scaled, name, getattr(optimizer, name))
    return scaled
