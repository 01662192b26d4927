"""Which of the best trial's choices moved the needle? One-at-a-time ablation toward the baseline.

    python benchmarks/ablation.py DB [--study studies/cifar10-mini.toml] [--trial N] [--control-seeds K]
                                  [--out models/bench-ablation.db]

DB is the SQLite file of a finished search (e.g. models/bench-cifar10-mini/study.db). For every
hyperparameter on which the best trial (or ``--trial N``) and the baseline (trial 0) differ, the
best trial is retrained with that one value set back to the baseline's, through hpo's own
objective (same data, early stopping, BatchNorm calibration, no pruner) and with the same seed;
the unchanged trial is rerun as the control (``--control-seeds K``: with K seeds, for the
noise) and the baseline is rerun with the same seed. A parameter that only exists under
another choice (AdamW's weight decay) goes with that choice. fANOVA importances need many
complete trials; a pruned search has few, so this answers the question directly. Each
variant is its own study in OUT, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    ap.add_argument("--out", type=Path, default=ROOT / "models/bench-ablation.db", help="SQLite file for the variants")
    args = ap.parse_args()

    from hpo.config import load_config
    from hpo.retrain import pick_trial
    from hpo.search import load_data, run_search
    from hpo.study import baseline_trial, load_study, open_study
    from hpo.summary import format_value

    source = load_config(args.study).with_overrides(storage=f"sqlite:///{args.db}")
    study = load_study(source)
    best, base = pick_trial(study, args.trial), baseline_trial(study)
    if base is None:
        raise SystemExit(f"{args.db}: study {source.study.name} has no baseline trial")
    differing = sorted(k for k in best.params.keys() & base.params.keys() if best.params[k] != base.params[k])
    seed = source.study.seed + best.number  # the seed trial `best` trained with
    # (label, study-name suffix, params, seed)
    variants = [("(none: control)", "none", dict(best.params), seed)]
    variants += [
        (f"(none: control, seed +{i})", f"none-seed{i}", dict(best.params), seed + i)
        for i in range(1, args.control_seeds)
    ]
    variants += [(k, k, {**best.params, k: base.params[k]}, seed) for k in differing]
    variants += [("(all: the baseline)", "baseline", dict(base.params), seed)]
    data = load_data(source, progress=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, slug, params, variant_seed in variants:
        cfg = dataclasses.replace(
            source,
            study=dataclasses.replace(
                source.study,
                name=f"{source.study.name}-t{best.number}-ablate-{slug}",
                storage=f"sqlite:///{args.out}",
                seed=variant_seed,
                n_trials=1,
                timeout=None,
                enqueue_baseline=False,
                max_train_val_gap=None,
            ),
            pruner=dataclasses.replace(source.pruner, type="none"),
        )
        variant_study = open_study(cfg)
        if not variant_study.trials:
            variant_study.enqueue_trial(params)
        done = run_search(cfg, data, on_trial=lambda line, lab=label: print(f"[{lab}] {line}", flush=True))
        trial = done.trials[0]
        if trial.value is None:
            raise SystemExit(f"variant {label}: trial {trial.state.name} ({trial.user_attrs.get('fail_reason')})")
        rows.append((label, trial.value, trial.user_attrs.get("best_epoch")))
    control = rows[0][1]
    print(f"\nTrial {best.number} (val {best.value:.4f} in the search) vs baseline (val {base.value:.4f}):")
    print("| set back to the baseline's | trial's value | baseline's value | val accuracy | change |")
    print("|---|---|---|---|---|")
    for label, value, epoch in rows:
        was, now = (format_value(t.params.get(label, "")) for t in (best, base))
        print(f"| {label} | {was} | {now} | {value:.4f} (epoch {epoch}) | {100 * (value - control):+.1f} pt |")


if __name__ == "__main__":
    main()
