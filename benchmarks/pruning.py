"""Hyperband vs. no pruner on the same study: epochs spent and best val accuracy.

    python benchmarks/pruning.py [--study studies/cifar10-mini.toml] [--n-trials 24]
                                 [--min-resource 2] [--reduction-factor 4]

Runs the study twice into a fresh SQLite file (same sampler seed, same trial count, no
timeout so both runs get every trial), once with the study's pruner (Hyperband, optionally
with other rungs) and once with none, and prints a Markdown row for BENCHMARKS.md. The first
``n_startup_trials`` are the same random draws in both runs; after that TPE sees different
histories, as it would in real use.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, default=ROOT / "studies/cifar10-mini.toml")
    ap.add_argument("--n-trials", type=int, default=None)
    ap.add_argument("--min-resource", type=int, default=None, help="override [pruner] min_resource")
    ap.add_argument("--reduction-factor", type=int, default=None, help="override [pruner] reduction_factor")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    from hpo.config import load_config
    from hpo.search import load_data, run_search
    from hpo.study import baseline_trial
    from hpo.summary import study_summary

    base = load_config(args.study).with_overrides(n_trials=args.n_trials)
    base = dataclasses.replace(base, study=dataclasses.replace(base.study, timeout=None))
    rungs = {"min_resource": args.min_resource, "reduction_factor": args.reduction_factor}
    base = dataclasses.replace(base, pruner=dataclasses.replace(base.pruner, **{k: v for k, v in rungs.items() if v}))
    data = load_data(base, progress=False)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pruner in (base.pruner.type, "none"):
            cfg = dataclasses.replace(
                base,
                pruner=dataclasses.replace(base.pruner, type=pruner),
                study=dataclasses.replace(
                    base.study,
                    name=f"{base.study.name}-{pruner}",
                    storage=f"sqlite:///{tmp}/bench.db",
                ),
            )
            t0 = time.perf_counter()
            study = run_search(cfg, data, on_trial=lambda line, p=pruner: print(f"[{p}] {line}", flush=True))
            s = study_summary(study, cfg)
            b = baseline_trial(study)
            results[pruner] = {
                "best_val_accuracy": s["best"]["val_accuracy"],
                "best_trial": s["best"]["number"],
                "baseline_val_accuracy": b.value if b else None,
                "epochs": s["epochs_run"],
                "epochs_unpruned": s["epochs_unpruned"],
                "counts": s["counts"],
                "minutes": (time.perf_counter() - t0) / 60,
            }
    p, n = results[base.pruner.type], results["none"]
    share = p["epochs"] / n["epochs"]
    gap = 100 * (n["best_val_accuracy"] - p["best_val_accuracy"])
    print(json.dumps(results, indent=1))
    print(
        f"| {time.strftime('%Y-%m-%d')} | {os.cpu_count()} CPUs "
        f"| {base.study.name} {base.data.image_size}px "
        f"| {base.study.n_trials} | {base.training.max_epochs} "
        f"| min {base.pruner.min_resource}, factor {base.pruner.reduction_factor} "
        f"| {p['best_val_accuracy']:.4f} / {n['best_val_accuracy']:.4f} ({gap:+.1f} pt) "
        f"| {p['epochs']} / {n['epochs']} ({100 * share:.0f} %) "
        f"| {p['counts']['pruned']} | {p['minutes']:.1f} / {n['minutes']:.1f} min |"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
