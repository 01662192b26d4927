"""`hpo export | evaluate | predict`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hpo.commands.search import ENV_HELP
from hpo.commands.study_file import study_config
from hpo.errors import HpoError
from hpo.fsutil import shown

__all__ = ["register"]


def _max_cost(args: argparse.Namespace, config: Any) -> float | None:
    """--max-latency-ms / --max-params: a bound on a multi-objective study's second objective."""
    for flag, name, value in (
        ("--max-latency-ms", "latency_ms", args.max_latency_ms),
        ("--max-params", "params", args.max_params),
    ):
        if value is None:
            continue
        if args.trial is not None:
            raise HpoError(f"give --trial or {flag}, not both")
        if config.study.objectives[1:] != (name,):
            raise HpoError(f'{flag} needs a study with objectives = ["val_accuracy", "{name}"] ({config.path})')
        return float(value)
    return None


def _export(args: argparse.Namespace) -> int:
    from hpo.api import Study
    from hpo.model.builders import study_builder
    from hpo.records.export import METRICS_FILE
    from hpo.savedmodel.export import check_export_out  # no TensorFlow until the retrain

    study = Study(study_config(args))
    out = Path(args.out or f"models/{study.name}")
    check_export_out(study.config, out)  # before any data preparation or training
    if args.from_trial and args.epochs is not None:
        raise HpoError("give --epochs or --from-trial, not both (the stored weights are the trial's best epoch's)")
    _check_ensemble(args)
    study_builder(study.config)
    max_cost = _max_cost(args, study.config)
    study.optuna_study()  # a missing study is an error before any data is prepared
    study.data(args.data, progress=not args.no_progress)
    m = study.export(
        out, trial=args.trial, max_cost=max_cost, epochs=args.epochs, tflite=args.tflite,
        progress=not args.no_progress, from_trial=args.from_trial, ensemble=args.ensemble,
    ).metrics  # fmt: skip
    how = (
        f"its own weights from epoch {m.epochs} (trained on train only, no retraining)"
        if m.from_trial
        else f"retrained {m.epochs} epochs on train+val in {m.training_seconds:.0f} s"
    )
    what = f"trial {m.trial}{' (baseline)' if m.baseline else ''}: {how}"
    if m.members and len(m.members) > 1:
        what = (
            f"the mean of trials {', '.join(map(str, m.members))} (their own weights, chosen on val: "
            f"{m.ensemble_val_accuracy:.4f} vs {m.trial_val_accuracy or 0:.4f} for trial {m.trial} alone)"
        )
    print(
        f"Exported {what}; test accuracy {m.test_accuracy:.4f} "
        f"(train {m.train_accuracy:.4f}, gap {m.train_test_gap:+.4f}); {m.param_count:,} params"
    )
    for q, v in (m.tflite or {}).items():
        print(f"  {v.file}: {v.size_mb:.3f} MB, test accuracy {v.test_accuracy:.4f} ({q})")
    print(f"Reloaded SavedModel matches (max abs diff {m.reload_max_abs_diff:.1e}).")
    print(f"SavedModel: {out / 'saved_model'}  ({m.saved_model_size_mb:.2f} MB; metrics in {out / METRICS_FILE})")
    return 0


def _check_ensemble(args: argparse.Namespace) -> None:
    if args.ensemble is None:
        return
    if args.ensemble < 0:
        raise HpoError(f"--ensemble must be 0 (retrain one trial) or more (members), got {args.ensemble}")
    if args.ensemble == 0:
        return
    for flag, value in (("--trial", args.trial), ("--epochs", args.epochs), ("--max-latency-ms", args.max_latency_ms),
                        ("--max-params", args.max_params)):  # fmt: skip
        if value is not None:
            raise HpoError(f"give --ensemble or {flag}, not both (the ensemble's members are chosen on the val split)")


def _evaluate(args: argparse.Namespace) -> int:
    from hpo.savedmodel.inference import load_exported
    from hpo.savedmodel.metrics import format_metrics
    from hpo.savedmodel.predict import evaluate_dataset

    result = evaluate_dataset(load_exported(Path(args.model)), Path(args.path), args.split, not args.no_progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    else:
        print(f"{result.dataset} with {result.model} ({result.format}):")
        print(format_metrics(result.metrics))
        for s in result.skipped:
            print(f"hpo: skipped {shown(s['path'])}: {shown(s['reason'])}", file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from hpo.savedmodel.inference import load_exported
    from hpo.savedmodel.predict import collect_images, predict_files

    if args.top_k < 1:
        raise HpoError(f"--top-k must be at least 1, got {args.top_k}")
    files = collect_images([Path(p) for p in args.paths])  # cheap checks first, then TensorFlow
    model = load_exported(Path(args.model))
    if not files:
        raise HpoError(f"no image files in {', '.join(map(shown, args.paths))}")
    records = predict_files(model, files, args.top_k, progress=not args.no_progress)
    if args.json:
        print(json.dumps(records, indent=1))
    for r in records:
        if "error" in r:
            print(f"hpo: cannot read {shown(r['path'])}: {shown(r['error'])}", file=sys.stderr)
        elif not args.json:
            best, rest = r["top"][0], r["top"][1:]
            alternatives = ", ".join(f"{shown(t['label'])} {t['probability']:.3f}" for t in rest)
            others = f"  ({alternatives})" if rest else ""
            print(f"{shown(r['path'])}\t{shown(best['label'])}\t{best['probability']:.3f}{others}")
    if all("error" in r for r in records):
        raise HpoError(f"none of the {len(records)} files could be read as an image")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from hpo.savedmodel.compare import compare_exports, format_comparison

    rows = compare_exports([Path(p) for p in args.exports])
    print(json.dumps([r.to_json() for r in rows], indent=1) if args.json else format_comparison(rows))
    return 0


def register(sub: Any) -> None:
    e = sub.add_parser(
        "export",
        help="retrain the best trial (or take its stored weights), score it on the test split, export a SavedModel",
        description=(
            "Retrain the best (or --trial N) trial's network on train+val for the epoch count at which "
            "it peaked (or, with --from-trial, take the weights the trial itself stored: seconds, no training), "
            "score it once on the test split, and write OUT/: saved_model/ (serving "
            "signature: float32 [N, H, W, 3] 0-255 pixels -> class probabilities), model.keras, "
            "labels.json, preprocess.json, metrics.json, MODEL_CARD.md, SHA256SUMS. The SavedModel is "
            "reloaded and checked against the trained model. OUT is checked before training (never a "
            "folder holding other files); a previous export there is replaced in one atomic step."
        ),
    )
    e.add_argument("study", metavar="STUDY.toml", help="study file")
    e.add_argument("--trial", type=int, help="trial number (default: the best complete trial)")
    e.add_argument("--max-latency-ms", type=float, help="multi-objective: most accurate Pareto trial at most this fast")
    e.add_argument("--max-params", type=int, help="multi-objective: most accurate Pareto trial with at most N params")
    e.add_argument(
        "--out",
        metavar="DIR",
        help="output folder: new, empty or an unchanged earlier export (default models/<study name>)",
    )
    e.add_argument("--epochs", type=int, help="retrain epochs (default: the trial's best epoch)")
    e.add_argument(
        "--from-trial",
        action="store_true",
        help="no retraining: export the trial's own best-epoch weights, stored by the search ([artifacts])",
    )
    e.add_argument(
        "--ensemble",
        type=int,
        metavar="K",
        help="no retraining: average up to K trials' stored weights, members added greedily while they raise "
        "val accuracy (K times the inference cost at most); default: the study file's [export] ensemble; "
        "0: retrain one trial",
    )
    e.add_argument("--tflite", action="store_true", help="also write float16 and int8 .tflite files")
    e.add_argument("--storage", metavar="URL", help=f"storage URL (overrides the file){ENV_HELP}")
    e.add_argument("--data", metavar="DIR", help="prepared folder or class folder (default: [data] source)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")
    e.set_defaults(func=_export)

    v = sub.add_parser(
        "evaluate",
        help="accuracy, per-class metrics and confusion matrix of an exported model on a dataset",
        description=(
            "MODEL: an export folder, its saved_model/ or a .tflite file. PATH: a class-folder dataset "
            "(classes matched by folder name or English label) or a prepared folder (then --split)."
        ),
    )
    v.add_argument("model", metavar="MODEL")
    v.add_argument("path", metavar="PATH")
    v.add_argument("--split", default="test", choices=["train", "val", "test"], help="for prepared folders")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.add_argument("--no-progress", action="store_true", help="no progress bars")
    v.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "predict",
        help="classify image files with an exported model",
        description=(
            "One line per file: path, label, probability (and the next --top-k - 1). Folders are "
            "searched for images. Unreadable files are reported on stderr; the rest are still "
            "predicted. Exit 0 unless no file could be read."
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("paths", metavar="PATH", nargs="+")
    p.add_argument("--top-k", type=int, default=3, help="labels shown per file (default 3)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_predict)

    c = sub.add_parser(
        "compare",
        help="exports side by side: test accuracy, train-test gap, params, size, latency",
        description="Compare `hpo export` folders (the first against the second, e.g. searched vs. baseline).",
    )
    c.add_argument("exports", metavar="EXPORT", nargs="+", help="export folders")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=_compare)
