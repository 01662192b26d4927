"""Which of the best trial's choices moved the needle? One-at-a-time ablation toward the baseline.

    python benchmarks/ablation.py DB [--study studies/cifar10-mini.toml] [--trial N] [--control-seeds K]
                                  [--out models/bench-ablation.db]

DB is the SQLite file of a finished search (e.g. models/bench-cifar10-mini/study.db). For every
hyperparameter on which the best trial (or ``--trial N``) and the baseline (trial 0) differ, the
best trial is retrained with that one value set back to the baseline's, through hpo's own
training seam (`hpo.study.train.train_params`: same data, early stopping, BatchNorm calibration, no
pruner) and with the same seed;
the unchanged trial is rerun as the control (``--control-seeds K``: with K seeds, for the
noise) and the baseline is rerun with the same seed. A parameter that only exists under
another choice (AdamW's weight decay) goes with that choice. fANOVA importances need many
complete trials; a pruned search has few, so this answers the question directly.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path, help="SQLite file of the finished search")
    ap.add_argument("--study", type=Path, default=ROOT / "studies/cifar10-mini.toml")
    ap.add_argument("--trial", type=int, default=None, help="trial to ablate (default: the best)")
    ap.add_argument("--control-seeds", type=int, default=1, help="run the control with this many seeds (noise)")
    args = ap.parse_args()

    from hpo.config import load_config
    from hpo.report.summary import format_value
    from hpo.savedmodel.retrain import pick_trial
    from hpo.study.run import load_data
    from hpo.study.study import baseline_trial, load_study
    from hpo.study.train import release, train_params

    source = load_config(args.study).with_overrides(storage=f"sqlite:///{args.db}")
    study = load_study(source)
    best, base = pick_trial(study, args.trial), baseline_trial(study)
    if base is None:
        raise SystemExit(f"{args.db}: study {source.study.name} has no baseline trial")
    differing = sorted(k for k in best.params.keys() & base.params.keys() if best.params[k] != base.params[k])
    seed = source.study.seed + best.number  # the seed trial `best` trained with
    # (label, params, seed)
    variants = [("(none: control)", dict(best.params), seed)]
    variants += [(f"(none: control, seed +{i})", dict(best.params), seed + i) for i in range(1, args.control_seeds)]
    variants += [(k, {**best.params, k: base.params[k]}, seed) for k in differing]
    variants += [("(all: the baseline)", dict(base.params), seed)]
    data = load_data(source, progress=False)
    rows = []
    for label, params, variant_seed in variants:
        _, result = train_params(source, data, params, seed=variant_seed)
        release()
        if result.nan_epoch() is not None or not result.curve:
            raise SystemExit(f"variant {label}: the loss became NaN at epoch {result.nan_epoch()}")
        stats = result.best_epoch()
        rows.append((label, max(result.curve), stats.best_epoch))
        print(f"[{label}] val_accuracy {rows[-1][1]:.4f} at epoch {stats.best_epoch}", flush=True)
    control = rows[0][1]
    print(f"\nTrial {best.number} (val {best.value:.4f} in the search) vs baseline (val {base.value:.4f}):")
    print("| set back to the baseline's | trial's value | baseline's value | val accuracy | change |")
    print("|---|---|---|---|---|")
    for label, value, epoch in rows:
        was, now = (format_value(t.params.get(label, "")) for t in (best, base))
        print(f"| {label} | {was} | {now} | {value:.4f} (epoch {epoch}) | {100 * (value - control):+.1f} pt |")


if __name__ == "__main__":
    main()
