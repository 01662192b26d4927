"""`hpo artifacts list | prune`: the weights each trial stored in the study's artifact store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hpo.commands.search import ENV_HELP
from hpo.errors import HpoError

__all__ = ["register"]


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from hpo.config import load_config
    from hpo.study.study import load_study
    from hpo.workers.storage import storage_override

    config = load_config(args.study).with_overrides(storage=storage_override(args.storage))
    return config, load_study(config)


def _list(args: argparse.Namespace) -> int:
    from hpo.records.trial import StoredWeights
    from hpo.study.artifacts import removed_ids
    from hpo.study.study import accuracy

    config, study = _open(args)
    gone = removed_ids(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if (w := StoredWeights.of(trial)) is not None:
            status = "removed" if w.artifact_id in gone else "stored"
            rows.append({"trial": trial.number, "state": trial.state.name, "val_accuracy": accuracy(trial),
                         "epoch": w.epoch, "bytes": w.bytes, "status": status,
                         "artifact_id": w.artifact_id})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'trial':>5}  {'state':<8} {'val_acc':>7} {'epoch':>5} {'MB':>8}  {'status':<7}  artifact")
    for r in rows:
        acc = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "-"
        print(f"{r['trial']:>5}  {r['state']:<8} {acc:>7} {r['epoch']:>5} {r['bytes'] / 1e6:>8.3f}  "
              f"{r['status']:<7}  {r['artifact_id']}")  # fmt: skip
    stored = [r for r in rows if r["status"] == "stored"]
    total = sum(r["bytes"] for r in stored) / 1e6
    print(f"{len(stored)} trial(s) with stored weights, {total:.2f} MB in {config.artifacts.store}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from hpo.study.artifacts import open_store, prune_weights

    if args.keep_best < 0:
        raise HpoError(f"--keep-best must be 0 or more, got {args.keep_best}")
    config, study = _open(args)
    store = open_store(config.artifacts.store)
    if store is None:
        raise HpoError(f'[artifacts] store is "none" in {config.path} — name the store the workers wrote to')
    pruned = prune_weights(study, store, args.keep_best)
    kept = ", ".join(map(str, sorted(pruned.kept))) or "none"
    print(f"Removed the weights of {len(pruned.removed)} trial(s), {pruned.freed_bytes / 1e6:.2f} MB; "
          f"kept trial(s) {kept}")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    a = sub.add_parser(
        "artifacts",
        help="the weights each trial stored ([artifacts]): list them, prune all but the best",
        description=(
            "Each trial that completes stores its best epoch's weights as an Optuna artifact (pruned "
            "trials too with [artifacts] pruned = true); `hpo export --from-trial` exports them without "
            "retraining."
        ),
    )
    verbs = a.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="trials with stored weights: epoch, size, artifact id")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    pr = verbs.add_parser(
        "prune",
        help="remove the stored weights of all but the K best complete trials",
        description=(
            "Remove the stored weights of every finished trial except the K most accurate complete ones "
            "(and a multi-objective study's Pareto front); running trials are left alone. "
            "[artifacts] keep_best = K does the same after every trial."
        ),
    )
    pr.add_argument("--keep-best", type=int, required=True, metavar="K", help="trials whose weights are kept")
    pr.set_defaults(func=_prune)
    for p in (ls, pr):
        p.add_argument("study", metavar="STUDY.toml", help="study file")
        p.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
