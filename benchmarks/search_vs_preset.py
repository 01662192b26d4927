"""Issue 25's acceptance: the search + export vs. the preset alone, at the same wall-clock budget.

    python benchmarks/search_vs_preset.py [STUDY.toml] [--seeds 0 1] [--timeout S]
                                          [--startup local] [--out DIR] [--exports-only]

Per seed, one study (the study file's space, data, pruner, baseline and preset; ``[study] seed``,
``timeout`` and ``[sampler] startup`` set here; its SQLite file and its trials' weights in OUT):

  1. the search, in its own process, timed from the process start (TensorFlow's start-up and the
     data included) to its end;
  2. exports from the trials' stored weights (`hpo export --from-trial`: no retraining), each
     scored once on the test split:
       - ``preset``: trial 1, the ``[[study.enqueue]]`` preset. It trains with the study's seed + 1
         whatever comes after it, so this is the preset alone, trained and exported as a study of
         the preset alone would (its minutes: its own training plus the export);
       - ``best``: the best trial by val accuracy (what `hpo export --from-trial` picks);
       - ``ensemble``: `hpo export --ensemble` (members chosen on the val split; one member when
         no ensemble beats the best trial there).

Prints one markdown row per (seed, export) and the mean per export. ``--exports-only`` redoes step 2
on the studies already in OUT (step 1's minutes are read back from OUT/seed-S/search.json);
``--searches-only`` runs step 1 alone. All searches run before the first export.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
EXPORTS = ("preset", "best", "ensemble")


def _config(args: argparse.Namespace, seed: int):  # type: ignore[no-untyped-def]
    from hpo.config import load_config

    config = load_config(args.study)
    folder = args.out / f"seed-{seed}"
    name = f"{config.study.name}-{args.startup}-s{seed}"
    storage, timeout = f"sqlite:///{folder / 'study.db'}", args.timeout or config.study.timeout
    study = replace(config.study, name=name, seed=seed, storage=storage, timeout=timeout)
    artifacts = replace(config.artifacts, store=f"file:{folder / 'artifacts'}")
    return replace(config, study=study, sampler=replace(config.sampler, startup=args.startup), artifacts=artifacts)


def child_search(args: argparse.Namespace, seed: int) -> None:
    import hpo

    hpo.Study(_config(args, seed)).search()


def child_export(args: argparse.Namespace, seed: int, what: str) -> None:
    import hpo

    study = hpo.Study(_config(args, seed))
    out = args.out / f"seed-{seed}" / what
    if what == "preset":
        study.export(out, trial=1, from_trial=True)
    elif what == "best":
        study.export(out, from_trial=True)
    else:
        study.export(out, from_trial=True, ensemble=args.ensemble_size)


def _child(args: argparse.Namespace, *extra: str) -> float:
    cmd = [sys.executable, __file__, str(args.study), "--out", str(args.out)]
    cmd += ["--timeout", str(args.timeout)] if args.timeout else []
    cmd += ["--startup", args.startup, "--ensemble-size", str(args.ensemble_size), *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - t0


def _row(args: argparse.Namespace, seed: int, what: str, export_s: float) -> dict[str, object]:
    import optuna

    folder = args.out / f"seed-{seed}"
    metrics = json.loads((folder / what / "metrics.json").read_text())
    search = json.loads((folder / "search.json").read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=_config(args, seed).study.name, storage=f"sqlite:///{folder / 'study.db'}")
    frozen = trials.get_trials(deepcopy=False)
    states = [t.state.name for t in frozen]
    if what == "preset":  # a study of the preset alone: its training, then the export
        t1 = next(t for t in frozen if t.number == 1)
        assert t1.datetime_complete is not None and t1.datetime_start is not None
        minutes = ((t1.datetime_complete - t1.datetime_start).total_seconds() + export_s) / 60
    else:
        minutes = (search["seconds"] + export_s) / 60
    members = metrics.get("members") or [metrics["trial"]]
    return {
        "seed": seed,
        "export": what,
        "members": members,
        "test_accuracy": metrics["test_accuracy"],
        "val_accuracy": metrics.get("ensemble_val_accuracy") or metrics["trial_val_accuracy"],
        "trials": states.count("COMPLETE") + states.count("PRUNED"),
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "minutes": round(minutes, 1),
        "search_minutes": round(search["seconds"] / 60, 1),
        "export_minutes": round(export_s / 60, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, nargs="?", default=ROOT / "studies" / "cifar10-mini.toml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--timeout", type=float, default=None, help="seconds (default: the study file's)")
    ap.add_argument("--startup", default="local", choices=["random", "local"])
    ap.add_argument("--ensemble-size", type=int, default=3, help="most members of the ensemble export")
    ap.add_argument("--exports", nargs="+", default=list(EXPORTS), choices=EXPORTS)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "bench-search-vs-preset")
    ap.add_argument("--exports-only", action="store_true", help="the studies in OUT are searched already")
    ap.add_argument("--searches-only", action="store_true", help="step 1 only")
    ap.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.study, args.out = args.study.resolve(), args.out.resolve()
    if args.child:
        seed = int(args.child[1])
        child_search(args, seed) if args.child[0] == "search" else child_export(args, seed, args.child[2])
        return
    rows = []
    for seed in args.seeds:
        folder = args.out / f"seed-{seed}"
        if not args.exports_only:
            folder.mkdir(parents=True, exist_ok=False)
            seconds = _child(args, "--child", "search", str(seed))
            (folder / "search.json").write_text(json.dumps({"seconds": seconds, "date": time.strftime("%F %T")}))
    for seed in [] if args.searches_only else args.seeds:
        for what in args.exports:
            rows.append(_row(args, seed, what, _child(args, "--child", "export", str(seed), what)))
            print(json.dumps(rows[-1]), flush=True)
    (args.out / "result.json").write_text(json.dumps(rows, indent=1))
    print("| seed | export | members | val acc | test acc | trials (complete, pruned) | minutes: search + export |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['export']} | {r['members']} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | "
            f"{r['trials']} ({r['complete']}, {r['pruned']}) | {r['minutes']} |"
        )
    for what in args.exports if rows else []:
        accs = [float(r["test_accuracy"]) for r in rows if r["export"] == what]  # type: ignore[arg-type]
        print(f"mean test accuracy, {what}: {statistics.mean(accs):.4f} over {len(accs)} seeds")


if __name__ == "__main__":
    main()
