"""SavedModel vs. TFLite float16 vs. TFLite int8 of one export, on this CPU.

    python benchmarks/export_formats.py models/cifar10-mini --prepared studies/cifar10-mini/prepared-32px

For each format: size on disk (MB), single-image latency p50/p95 (ms, batch 1, after warm-up),
batch-64 throughput (images/s) and accuracy on the prepared test split. Needs an export made
with `hpo export ... --tflite`. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export", type=Path)
    ap.add_argument("--prepared", type=Path, required=True, help="prepared folder whose test split is scored")
    ap.add_argument("--single-runs", type=int, default=300)
    ap.add_argument("--batch-runs", type=int, default=30)
    args = ap.parse_args()

    from hpo.data import load_prepared
    from hpo.fsutil import size_mb
    from hpo.savedmodel.inference import load_exported

    x, y = load_prepared(args.prepared).arrays("test")
    xf = x.astype(np.float32)
    variants = {
        "SavedModel": args.export / "saved_model",
        "TFLite float16": args.export / "model_float16.tflite",
        "TFLite int8": args.export / "model_int8.tflite",
    }
    rows = []
    for name, path in variants.items():
        model = load_exported(path)
        acc = float(np.mean(model.predict(x).argmax(1) == y))
        fn = model._fn
        for _ in range(20):
            fn(xf[:1])
        lat = []
        for i in range(args.single_runs):
            t0 = time.perf_counter()
            fn(xf[i % len(xf) : i % len(xf) + 1])
            lat.append((time.perf_counter() - t0) * 1e3)
        batch = xf[:64] if len(xf) >= 64 else np.resize(xf, (64, *xf.shape[1:]))
        fn(batch)
        t0 = time.perf_counter()
        for _ in range(args.batch_runs):
            fn(batch)
        thr = 64 * args.batch_runs / (time.perf_counter() - t0)
        rows.append((name, size_mb(path), np.percentile(lat, 50), np.percentile(lat, 95), thr, acc))

    base = rows[0]
    print(f"export: {args.export}; test split: {len(y)} images; {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}")
    print("| format | size (MB) | p50 ms | p95 ms | batch-64 img/s | test accuracy | smaller | faster (p50) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, size, p50, p95, thr, acc in rows:
        print(
            f"| {name} | {size:.3f} | {p50:.3f} | {p95:.3f} | {thr:,.0f} | {acc:.4f} "
            f"| {base[1] / size:.1f}x | {base[2] / p50:.1f}x |"
        )


if __name__ == "__main__":
    main()
