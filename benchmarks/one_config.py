"""Train one configuration of a study's space, as a trial would, and score it: what a recipe
reaches before a search is spent on it.

    python benchmarks/one_config.py STUDY.toml '{"convs": 2, "flip": true, "crop": 4}' [--epochs 30] [--seed 0]

The JSON holds the parameters to change from the seed's baseline (hpo's CNN: the names of
`hpo.model.space.CNNParams`). Training goes through `hpo.study.train.train_params` — the same data,
BatchNorm recalibration and early stopping as a trial, no pruner, no study — on the train split,
validated on val; the weights kept are then scored once on the test split. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("params", help="JSON object of CNNParams fields that differ from the baseline")
    ap.add_argument("--epochs", type=int, default=None, help="default: [training] max_epochs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import hpo
    from hpo.model.cnn import inference_accuracy
    from hpo.model.space import BASELINE
    from hpo.study.train import train_params

    study = hpo.Study.from_file(args.study)
    params = replace(BASELINE, **json.loads(args.params))
    flat = {k: v for k, v in asdict(params).items() if k != "weight_decay" or params.optimizer == "adamw"}
    flat |= {f"{k}_on": bool(getattr(params, k)) for k in ("l1", "l2") if getattr(study.config.search, k) is not None}
    flat = {k: v for k, v in flat.items() if not (k in ("l1", "l2") and not v)}
    data = study.data()
    t0 = time.perf_counter()
    candidate, result = train_params(study.config, data, flat, seed=args.seed, epochs=args.epochs)
    seconds = time.perf_counter() - t0
    stats = result.best_epoch()
    print(
        json.dumps(
            {
                "params": json.loads(args.params),
                "val_accuracy": max(result.curve),
                "test_accuracy": inference_accuracy(candidate.model, *data.arrays("test")),
                "train_accuracy": inference_accuracy(candidate.model, *data.arrays("train")),
                "best_epoch": stats.best_epoch,
                "epochs_run": stats.epochs_run,
                "seconds": round(seconds, 1),
                "param_count": int(candidate.model.count_params()),
                "curve": [round(v, 4) for v in result.curve],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
