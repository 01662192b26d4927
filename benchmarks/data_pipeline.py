"""Training-input throughput: the prepared uint8 cache vs. decoding JPEGs every epoch.

    python benchmarks/data_pipeline.py [--src ../shared/datasets/cifar10-mini] [--size 64]

Both pipelines feed the same train split in batches of 64, shuffled, prefetched, with
AUTOTUNE parallelism; the naive one reads, decodes and resizes each JPEG every epoch. Also
times `prepare` cold and warm (cache reuse). Prints a Markdown row for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _epoch_rate(ds: object, n: int, epochs: int) -> float:
    best = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        seen = sum(int(x.shape[0]) for x, _ in ds)  # type: ignore[attr-defined]
        assert seen == n, (seen, n)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared/datasets/cifar10-mini")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3, help="epochs timed per pipeline (best kept)")
    args = ap.parse_args()

    import tensorflow as tf

    from hpo.data import load_prepared, prepare
    from hpo.data.pipeline import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prepared"
        t0 = time.perf_counter()
        prepare(args.src, out, image_size=args.size, progress=False)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        prepare(args.src, out, image_size=args.size, progress=False)
        warm = time.perf_counter() - t0

        data = load_prepared(out)
        train = data.indices("train")
        n = len(train)
        cached = _epoch_rate(make_dataset(data, "train", args.batch, shuffle=True), n, args.epochs)

        root = Path(data.manifest["root"])
        paths = [str(root / data.manifest["items"][i]["path"]) for i in train]
        size = args.size

        def decode(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            img = tf.image.resize(img, (size, size))
            return tf.cast(img, tf.uint8), label

        naive_ds = (
            tf.data.Dataset.from_tensor_slices((paths, data.labels[train]))
            .shuffle(n, seed=0)
            .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(args.batch)
            .prefetch(tf.data.AUTOTUNE)
        )
        naive = _epoch_rate(naive_ds, n, args.epochs)

    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs")
    print(f"dataset: {args.src} ({n} train images) at {size}px, batch {args.batch}")
    print(f"prepare: cold {cold:.2f} s, warm {warm:.2f} s ({100 * warm / cold:.0f} % of cold)")
    print(f"cache pipeline: {cached:,.0f} img/s; naive decode-every-epoch: {naive:,.0f} img/s")
    print(f"speed-up: {cached / naive:.1f}x")
    print(
        f"| {time.strftime('%Y-%m-%d')} | {os.cpu_count()} CPUs | {size}px | {cold:.2f} s "
        f"| {warm:.2f} s | {cached:,.0f} | {naive:,.0f} | {cached / naive:.1f}x |"
    )


if __name__ == "__main__":
    main()
