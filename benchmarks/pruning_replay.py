"""Replay an unpruned study's recorded curves through Optuna's own pruners, offline.

    python benchmarks/pruning_replay.py DB STUDY_NAME [--as-study NAME]
                                        [--pruner hyperband successive_halving percentile]
                                        [--min-resource 1 2 3] [--reduction-factor 3 4 5]
                                        [--bootstrap-count 0 1 2]

Each trial of STUDY_NAME (run with ``type = "none"``, e.g. the ``--only none`` half of
`benchmarks/pruning.py`) reported val accuracy every epoch. For every schedule on the grid,
the trials are replayed in order into an in-memory study with the pruner `hpo search` would
build (`hpo.study.study.pruner_from`), reporting each epoch and asking ``should_prune`` exactly as
`KerasPruningCallback` does, so each schedule's epochs and the best value it keeps are what
Optuna would have done with these curves. Trials marked as the baseline report without
competing, as in `hpo search`. Hyperband assigns brackets by a hash of study name and trial
number, so each replay is named as `benchmarks/pruning.py` names that schedule's run
(``--as-study`` overrides). What it cannot show: after its start-up trials, TPE may propose
different candidates once it sees pruned trials.
"""

from __future__ import annotations

import argparse
import itertools
import math

import optuna
from optuna.pruners import BasePruner
from optuna.trial import TrialState

from hpo.config import PrunerConfig
from hpo.study.study import pruner_from

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_pruner(kind: str, min_resource: int, factor: int, bootstrap: int, max_epochs: int) -> BasePruner:
    if kind == "percentile":  # not an hpo pruner; the grid reads: epochs before pruning, top 1/factor, start-up trials
        return optuna.pruners.PercentilePruner(
            100 - 100 / factor, n_startup_trials=bootstrap, n_warmup_steps=min_resource - 1
        )
    config = PrunerConfig(type=kind, min_resource=min_resource, reduction_factor=factor, bootstrap_count=bootstrap)
    return pruner_from(config, max_epochs)


def replay(curves: list[tuple[list[float], bool]], name: str, pruner: BasePruner) -> tuple[int, float, int]:
    """(epochs trained, best value of the trials that ran to their end, trials pruned)."""
    study = optuna.create_study(study_name=name, direction="maximize", pruner=pruner)
    epochs, best, pruned = 0, -math.inf, 0
    for curve, baseline in curves:
        trial = study.ask()
        for step, value in enumerate(curve):
            epochs += 1
            trial.report(value, step)
            if not baseline and trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                pruned += 1
                break
        else:
            study.tell(trial, max(curve))
            best = max(best, max(curve))
    return epochs, best, pruned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", help="SQLite file of the unpruned run")
    ap.add_argument("study", help="name of the unpruned study in it")
    ap.add_argument("--as-study", default=None, help="replay study name (Hyperband's bracket hash)")
    ap.add_argument(
        "--pruner", nargs="+", choices=("hyperband", "successive_halving", "percentile"), default=["hyperband"]
    )
    ap.add_argument("--min-resource", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--reduction-factor", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--bootstrap-count", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()

    source = optuna.load_study(study_name=args.study, storage=f"sqlite:///{args.db}")
    done = [t for t in source.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    curves = [
        ([t.intermediate_values[s] for s in sorted(t.intermediate_values)], bool(t.user_attrs.get("baseline")))
        for t in sorted(done, key=lambda t: t.number)
    ]
    max_epochs = max(len(c) for c, _ in curves)
    unpruned = sum(len(c) for c, _ in curves)
    best = max(max(c) for c, _ in curves)
    print(f"{len(curves)} trials, {unpruned} epochs unpruned, best {best:.4f}, max {max_epochs} epochs")
    print("| pruner | min | factor | bootstrap | epochs | share | best kept | vs unpruned | pruned |")
    print("|---|---|---|---|---|---|---|---|---|")
    grid = itertools.product(args.pruner, args.min_resource, args.reduction_factor, args.bootstrap_count)
    for kind, m, f, b in grid:
        # benchmarks/pruning.py names its halves <prefix>-none and <prefix>-<pruner>-m-f-b
        name = args.as_study or f"{args.study.removesuffix('-none')}-{kind}-m{m}-f{f}-b{b}"
        epochs, kept, pruned = replay(curves, name, make_pruner(kind, m, f, b, max_epochs))
        print(
            f"| {kind} | {m} | {f} | {b} | {epochs} | {100 * epochs / unpruned:.0f} % | {kept:.4f} "
            f"| {100 * (kept - best):+.1f} pt | {pruned} |"
        )


if __name__ == "__main__":
    main()
