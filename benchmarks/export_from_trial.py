"""Export by retraining vs. from the trial's own weights: minutes and test accuracy side by side,
and what the per-trial weights cost on disk.

    python benchmarks/export_from_trial.py [--study studies/cifar10-mini.toml] [--data DIR]
        [--out models/bench-export-from-trial] [--timeout S] [--n-trials N] [--max-epochs E]

On a fresh SQLite study in OUT/study.db with its artifact store in OUT/artifacts (the study file's
other settings as they are), through the Python API in one process:
  1. search                                     (the study's budget, or --timeout / --n-trials)
  2. export the best trial, retrained on train+val for its best epoch count  -> OUT/retrained
  3. export the same trial from its stored weights (train only, no training)  -> OUT/from-trial
and prints both exports' minutes and test accuracy, and the bytes stored per trial. The full form
(no flags) is the committed study: ~25 min search + ~7 min retrain on 2 CPUs. A reduced form for
a busy machine: --n-trials 1 --max-epochs 2 (the baseline alone, two epochs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import hpo
from hpo.config import load_config
from hpo.records.trial import StoredWeights

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, default=ROOT / "studies" / "cifar10-mini.toml")
    ap.add_argument("--data", help="class folder or prepared folder (default: the study's [data] source)")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "bench-export-from-trial")
    ap.add_argument("--timeout", type=float, help="search seconds (default: the study's)")
    ap.add_argument("--n-trials", type=int, help="trial cap (default: the study's)")
    ap.add_argument("--max-epochs", type=int, help="epochs per trial (default: the study's)")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = load_config(args.study).with_overrides(
        storage=f"sqlite:///{out / 'study.db'}", timeout=args.timeout, n_trials=args.n_trials
    )
    config = replace(config, artifacts=replace(config.artifacts, store=f"file:{out / 'artifacts'}"))
    if args.max_epochs:
        config = replace(config, training=replace(config.training, max_epochs=args.max_epochs))
    study = hpo.Study(config)
    study.data(args.data, progress=False)

    t0 = time.perf_counter()
    searched = study.search()
    t_search = time.perf_counter() - t0
    t1 = time.perf_counter()
    retrained = study.export(out / "retrained", ensemble=0).metrics  # not the study file's [export] ensemble
    t_retrain = time.perf_counter() - t1
    t2 = time.perf_counter()
    own = study.export(out / "from-trial", from_trial=True).metrics
    t_own = time.perf_counter() - t2

    stored = [w for t in searched.get_trials(deepcopy=False) if (w := StoredWeights.of(t)) is not None]
    sizes = [w.bytes for w in stored]
    result = {
        "trial": own.trial,
        "trials_finished": len([t for t in searched.get_trials(deepcopy=False) if t.state.is_finished()]),
        "retrained": {"minutes": t_retrain / 60, "test_accuracy": retrained.test_accuracy,
                      "epochs": retrained.epochs, "splits": "train+val"},
        "from_trial": {"minutes": t_own / 60, "test_accuracy": own.test_accuracy, "epochs": own.epochs,
                       "splits": "train"},
        "search_minutes": t_search / 60,
        "artifacts": {"trials": len(sizes), "bytes_per_trial_mean": sum(sizes) / max(len(sizes), 1),
                      "bytes_per_trial_max": max(sizes, default=0), "bytes_total": sum(sizes)},
        "max_epochs": config.training.max_epochs,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }  # fmt: skip
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    r, o, a = result["retrained"], result["from_trial"], result["artifacts"]
    print(
        f"| {result['date']} | {os.cpu_count()} CPUs | trial {own.trial}, {result['trials_finished']} trials, "
        f"max {config.training.max_epochs} epochs | retrain {r['minutes']:.2f} min, test {r['test_accuracy']:.4f} "
        f"| from trial {o['minutes']:.2f} min, test {o['test_accuracy']:.4f} "
        f"| {a['bytes_per_trial_mean'] / 1e6:.2f} MB/trial (max {a['bytes_per_trial_max'] / 1e6:.2f}) |"
    )


if __name__ == "__main__":
    main()
