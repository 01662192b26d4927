"""`time_network`: a few training steps of one network on this machine, for `hpo init`'s budget.

One warm-up step (the model is built and its training step traced: what every trial pays
once), then up to ``max_batches`` timed steps on a batch of the surveyed images, stopping
early after ``max_seconds``: seconds, not minutes, whatever the data. The steps are the ones
a trial runs (`hpo.model.cnn`: the same augmentation wrapper, optimizer and loss,
``train_on_batch`` calling the model's compiled train function).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from hpo.data.decode import DecodeError, decode_file
from hpo.init.survey import Survey
from hpo.model.space import CNNParams

__all__ = ["MAX_BATCHES", "MAX_IMAGES", "MAX_SECONDS", "StepTiming", "gpu_visible", "sample_images", "time_network"]

MAX_BATCHES = 6  # timed steps after the warm-up
MAX_SECONDS = 2.0  # ... or fewer, once this long has been timed (at least 2)
MAX_IMAGES = 16  # distinct images decoded; the batch repeats them


@dataclass(frozen=True)
class StepTiming:
    """What a timing run measured: ``step_seconds`` is the median timed step of ``batch_size``
    images, ``warmup_seconds`` the build and first (traced) step."""

    params: CNNParams
    image_size: int
    batches: int
    step_seconds: float
    warmup_seconds: float
    wall_seconds: float  # decoding and the whole run
    device: str

    @property
    def image_seconds(self) -> float:
        """Seconds of one training image (forward, backward, update, augmentation)."""
        return self.step_seconds / self.params.batch_size

    def describe(self) -> str:
        p = self.params
        return (
            f"{self.batches} training steps of {p.batch_size} images at {self.image_size} px on the {self.device}, "
            f"preset network ({p.depth} blocks x {p.convs} convs, {p.base_filters} filters): "
            f"median {self.step_seconds * 1000:.0f} ms a step, first step {self.warmup_seconds:.1f} s (build + "
            f"tracing); {self.wall_seconds:.1f} s in all"
        )


def gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def sample_images(s: Survey, size: int, limit: int = MAX_IMAGES) -> np.ndarray:
    """Up to ``limit`` of the survey's example images, decoded as a trial sees them."""
    images = []
    for path in s.examples[:limit]:
        try:
            images.append(decode_file(path, size))
        except DecodeError:
            continue  # `hpo data prepare` lists it; any other image times the same
    if not images:
        images.append(np.zeros((size, size, 3), np.uint8))
    return np.stack(images)


def time_network(
    params: CNNParams,
    images: np.ndarray,
    num_classes: int,
    *,
    max_batches: int = MAX_BATCHES,
    max_seconds: float = MAX_SECONDS,
    mixed_precision: bool = False,
) -> StepTiming:
    """Train ``params``' network (augmentation and recipe included) on batches of ``images``
    for one warm-up step and 2..``max_batches`` timed ones (fewer past ``max_seconds``)."""
    import keras

    from hpo.model.cnn import build_cnn, compile_model, make_optimizer, with_augmentation

    t0 = time.perf_counter()
    size = int(images.shape[1])
    reps = -(-params.batch_size // len(images))
    x = np.concatenate([images] * reps)[: params.batch_size]
    y = np.arange(params.batch_size) % num_classes
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision else "float32")
    try:
        trainer = with_augmentation(build_cnn(params, num_classes, size), params.augmentation)
        compile_model(trainer, params.recipe, make_optimizer(params.recipe, steps_per_epoch=100, epochs=10))
        start = time.perf_counter()
        trainer.train_on_batch(x, y)
        warmup = time.perf_counter() - start
        steps: list[float] = []
        while len(steps) < max(2, max_batches) and (len(steps) < 2 or sum(steps) < max_seconds):
            start = time.perf_counter()
            trainer.train_on_batch(x, y)
            steps.append(time.perf_counter() - start)
    finally:
        keras.backend.clear_session()
        keras.config.set_dtype_policy(policy)
    device = "GPU" if gpu_visible() else "CPU"
    return StepTiming(params, size, len(steps), statistics.median(steps), warmup, time.perf_counter() - t0, device)
