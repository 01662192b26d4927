"""TFLite: post-training quantization (float16, int8) of an exported SavedModel, and running
a ``.tflite`` file. Inputs stay float32 0-255 pixels, like the SavedModel, so the
preprocessing contract is the same for every format."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["QUANTIZATIONS", "TFLiteRunner", "convert"]

QUANTIZATIONS = ("float16", "int8")
REPRESENTATIVE_SAMPLES = 256


def convert(saved_model: Path, out: Path, quantization: str, representative: np.ndarray) -> Path:
    """Write ``out`` (a .tflite file) from ``saved_model`` with ``quantization``.

    ``representative``: training images (uint8 ``[N, S, S, 3]``) for int8 calibration.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        sample = representative[:REPRESENTATIVE_SAMPLES].astype(np.float32)

        def gen() -> Iterator[list[np.ndarray]]:
            for img in sample:
                yield [img[None]]

        converter.representative_dataset = gen
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        raise ValueError(f"unknown quantization {quantization!r}")
    out.write_bytes(converter.convert())
    return out


class TFLiteRunner:
    """Batched inference with the TFLite interpreter (float32 in, probabilities out)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            self.interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
        self._in: dict[str, Any] = self.interpreter.get_input_details()[0]
        self._out: dict[str, Any] = self.interpreter.get_output_details()[0]
        self._batch = -1

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32)
        if x.shape[0] != self._batch:
            self.interpreter.resize_tensor_input(self._in["index"], list(x.shape))
            self.interpreter.allocate_tensors()
            self._batch = x.shape[0]
        self.interpreter.set_tensor(self._in["index"], x)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self._out["index"]))
