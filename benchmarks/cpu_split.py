"""One worker with all the cores, or several workers with a share each? (issue 25, Build 1)

    python benchmarks/cpu_split.py [STUDY.toml] [--layouts 1x2 2x1 1x2:bf16] [--epochs 3] [--rounds 1]

A layout ``WxT`` starts W processes at once, each with T TensorFlow threads (what `hpo search
--workers W` gives each worker on a machine with W*T cores), and each trains the study's first
preset (``[[study.enqueue]]``; the baseline without one) through `hpo.study.train.train_params` —
the trial's data, validation, BatchNorm recalibration — for EPOCHS epochs. The first epoch pays
the tracing and is left out; "s/epoch" is the mean of the others, per process. "epochs/min" is
what the whole machine trains: W x 60 / s-per-epoch. Prints one Markdown row per layout and round,
with the load average before it started (a busy machine makes every number here noise). A layout
ending in ``:bf16`` trains with ``[training] mixed_precision = true`` (``mixed_bfloat16`` on a CPU
with AVX512-BF16/AMX; the child fails on one without, rather than time float32 under that name).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def child(study_file: Path, threads: int, epochs: int, bf16: bool) -> None:
    """One process of a layout: train the preset, print its epoch times as one JSON line."""
    from hpo.workers.process import configure_tensorflow, cpu_has_bf16

    if bf16 and not cpu_has_bf16():
        raise SystemExit("this CPU has no AVX512-BF16/AMX: nothing to measure for :bf16")
    configure_tensorflow(threads, mixed_precision=bf16)
    import hpo
    from hpo.model.space import baseline_trial_params
    from hpo.study.train import train_params

    study = hpo.Study.from_file(study_file)
    config = study.config
    params = {**baseline_trial_params(config.search), **(config.study.enqueue[0] if config.study.enqueue else {})}
    _, result = train_params(config, study.data(), params, seed=0, epochs=epochs)
    print(json.dumps({"seconds": result.seconds, "val": max(result.curve)}), flush=True)


def run_layout(study_file: Path, workers: int, threads: int, epochs: int, bf16: bool) -> list[dict[str, object]]:
    cmd = [sys.executable, __file__, str(study_file), "--child", str(threads), "--epochs", str(epochs)]
    cmd += ["--bf16"] if bf16 else []
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a process of layout {workers}x{threads} failed")
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, nargs="?", default=ROOT / "studies" / "cifar10-mini.toml")
    ap.add_argument("--layouts", nargs="+", default=["1x2", "2x1"], help="WORKERSxTHREADS")
    ap.add_argument("--epochs", type=int, default=3, help="per process; the first (tracing) is not timed")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.study, args.child, args.epochs, args.bf16)
        return
    if args.epochs < 2:
        ap.error("--epochs must be at least 2 (the first epoch is not timed)")
    import hpo

    hpo.Study.from_file(args.study).data(progress=True)  # prepared once here, not raced by the processes
    print(f"{args.study.name}, {os.cpu_count()} CPUs, {args.epochs} epochs per process")
    print("| layout | load before | s/epoch per process | epochs/min (machine) | val after the epochs | wall (s) |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.rounds):
        for layout in args.layouts:
            shape, _, precision = layout.partition(":")
            workers, threads = (int(x) for x in shape.split("x"))
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            runs = run_layout(args.study, workers, threads, args.epochs, precision == "bf16")
            wall = time.perf_counter() - t0
            per = [sum(r["seconds"][1:]) / (len(r["seconds"]) - 1) for r in runs]  # type: ignore[index, arg-type]
            vals = ", ".join(f"{r['val']:.3f}" for r in runs)
            print(
                f"| {layout} | {load:.1f} | {', '.join(f'{s:.1f}' for s in per)} "
                f"| {sum(60 / s for s in per):.1f} | {vals} | {wall:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
