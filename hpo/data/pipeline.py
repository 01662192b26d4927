"""`tf.data` pipelines over a prepared cache: (uint8 image, int32 label) batches, prefetched.

No JPEG is decoded here: batches are gathered from the memory-mapped ``images.npy``. Pixels
stay 0-255 uint8; the model's first layer scales them by 1/255 (so an exported model takes
raw pixels).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from hpo.data.prepared import PreparedData

__all__ = ["make_dataset"]


def make_dataset(
    data: PreparedData,
    splits: str | tuple[str, ...],
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of ``(uint8[B, S, S, 3], int32[B])`` for one split or a union of splits.

    ``shuffle=True`` reshuffles every epoch (seeded); evaluation keeps the manifest order.
    """
    names = (splits,) if isinstance(splits, str) else splits
    idx = data.indices(*names).astype(np.int64)
    images, labels = data.images, data.labels
    size = data.image_size

    def gather(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(rows)  # read the memory map in file order; order inside a batch is moot
        return np.asarray(images[rows]), labels[rows]

    def load(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.numpy_function(gather, [rows], (tf.uint8, tf.int32), stateful=False)
        x.set_shape((None, size, size, 3))
        y.set_shape((None,))
        return x, y

    ds = tf.data.Dataset.from_tensor_slices(idx)
    if shuffle:
        ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
