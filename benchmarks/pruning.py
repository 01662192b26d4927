"""A pruner vs. no pruner on the same study: epochs spent and best val accuracy.

    python benchmarks/pruning.py [--study studies/cifar10-mini.toml] [--n-trials 16]
                                 [--max-epochs 20] [--pruner successive_halving] [--min-resource 1]
                                 [--reduction-factor 3] [--bootstrap-count 0] [--only none]
                                 [--db models/bench-pruning.db]

Runs the study twice into one SQLite file (same sampler seed, same trial count, no timeout
so both runs get every trial), once with the study's pruner (or ``--pruner``, optionally with
other rungs) and once with none, and prints a Markdown row for BENCHMARKS.md. The first
``n_startup_trials`` are the same random draws in both runs; after that TPE sees different
histories, as it would in real use. Each run is its own study named after its settings, so an
interrupted benchmark resumes, and ``--only`` runs one half (the row needs both).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, default=ROOT / "studies/cifar10-mini.toml")
    ap.add_argument("--n-trials", type=int, default=None)
    ap.add_argument("--pruner", choices=("hyperband", "successive_halving", "median"), help="override [pruner] type")
    ap.add_argument("--min-resource", type=int, default=None, help="override [pruner] min_resource")
    ap.add_argument("--reduction-factor", type=int, default=None, help="override [pruner] reduction_factor")
    ap.add_argument("--bootstrap-count", type=int, default=None, help="override [pruner] bootstrap_count")
    ap.add_argument("--max-epochs", type=int, default=None, help="override [training] max_epochs")
    ap.add_argument("--only", choices=("pruner", "none"), default=None, help="run one half")
    ap.add_argument("--db", type=Path, default=ROOT / "models/bench-pruning.db", help="SQLite file for both runs")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    from hpo.config import load_config
    from hpo.report.summary import study_summary
    from hpo.study.run import load_data, run_search
    from hpo.study.study import baseline_trial

    base = load_config(args.study).with_overrides(n_trials=args.n_trials)
    # no timeout, so both runs get every trial; no gap constraint: it changes what TPE proposes,
    # and this benchmark is about the pruner
    base = dataclasses.replace(base, study=dataclasses.replace(base.study, timeout=None, max_train_val_gap=None))
    overrides = {
        "type": args.pruner,
        "min_resource": args.min_resource,
        "reduction_factor": args.reduction_factor,
        "bootstrap_count": args.bootstrap_count,
    }
    base = dataclasses.replace(
        base, pruner=dataclasses.replace(base.pruner, **{k: v for k, v in overrides.items() if v is not None})
    )
    if args.max_epochs:
        base = dataclasses.replace(base, training=dataclasses.replace(base.training, max_epochs=args.max_epochs))
    data = load_data(base, progress=False)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    pr, tag = base.pruner, f"{base.study.n_trials}t-{base.training.max_epochs}ep"
    names = {
        pr.type: f"{base.study.name}-{tag}-{pr.type}-m{pr.min_resource}-f{pr.reduction_factor}-b{pr.bootstrap_count}",
        "none": f"{base.study.name}-{tag}-none",
    }
    results = {}
    for pruner, name in names.items():
        if args.only and (pruner == "none") != (args.only == "none"):
            continue
        cfg = dataclasses.replace(
            base,
            pruner=dataclasses.replace(base.pruner, type=pruner),
            study=dataclasses.replace(base.study, name=name, storage=f"sqlite:///{args.db}"),
        )
        t0 = time.perf_counter()
        study = run_search(cfg, data, on_trial=lambda line, p=pruner: print(f"[{p}] {line}", flush=True))
        s = study_summary(study, cfg)
        b = baseline_trial(study)
        results[pruner] = {
            "study": name,
            "best_val_accuracy": s["best"]["val_accuracy"],
            "best_trial": s["best"]["number"],
            "baseline_val_accuracy": b.value if b else None,
            "epochs": s["epochs_run"],
            "epochs_unpruned": s["epochs_unpruned"],
            "counts": s["counts"],
            "minutes_this_run": (time.perf_counter() - t0) / 60,
            "minutes_trials": sum(t.duration.total_seconds() for t in study.trials if t.duration) / 60,
        }
    print(json.dumps(results, indent=1))
    if len(results) < 2:
        return
    p, n = results[base.pruner.type], results["none"]
    share = p["epochs"] / n["epochs"]
    gap = 100 * (n["best_val_accuracy"] - p["best_val_accuracy"])
    print(
        f"| {time.strftime('%Y-%m-%d')} | {os.cpu_count()} CPUs "
        f"| {base.study.name} {base.data.image_size}px "
        f"| {base.study.n_trials} | {base.training.max_epochs} "
        f"| min {pr.min_resource}, factor {pr.reduction_factor}, bootstrap {pr.bootstrap_count} "
        f"| {p['best_val_accuracy']:.4f} / {n['best_val_accuracy']:.4f} ({gap:+.1f} pt) "
        f"| {p['epochs']} / {n['epochs']} ({100 * share:.0f} %) "
        f"| {p['counts']['pruned']} | {p['minutes_trials']:.1f} / {n['minutes_trials']:.1f} min |"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
