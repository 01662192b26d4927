"""Does `hpo init`'s timing run predict what a trial's epoch costs?

    python benchmarks/init_timing.py STUDY.toml [--widths 16 32 48] [--epochs 2] [--rounds 1]

STUDY: a study file written by `hpo init` (its [[study.enqueue]] preset is the network timed).
For each width, in turns: the timing run `hpo init` does (`hpo.init.timing.time_network` on a
batch of the study's training images) and the estimate it gives (`hpo.init.budget.TrialCost`:
the width timed directly, and scaled by multiply-adds from the preset's own width), then the
real thing: the preset at that width trained through `hpo.study.train.train_params` (the trial's
data, validation and BatchNorm recalibration) for EPOCHS epochs; its last epoch's wall time is
the measured epoch. Prints one Markdown row per width and round.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    from dataclasses import replace

    import optuna

    import hpo
    from hpo.config.space import Choice
    from hpo.init.budget import TrialCost
    from hpo.init.timing import time_network
    from hpo.model.space import baseline_trial_params, suggest
    from hpo.study.train import train_params

    study = hpo.Study.from_file(args.study)
    data = study.data()
    widths = Choice(tuple(sorted(set(args.widths) | set(study.config.search.base_filters.options))))
    config = replace(study.config, search=replace(study.config.search, base_filters=widths))
    x_train = data.arrays("train")[0]
    n_train, n_val, classes = len(x_train), len(data.arrays("val")[1]), data.num_classes
    preset = {**baseline_trial_params(config.search), **config.study.enqueue[0]}
    base = suggest(optuna.trial.FixedTrial(preset), config.search)
    images = x_train[:: max(1, n_train // 16)][:16]
    print(f"{args.study}: {n_train} train / {n_val} val images, {data.image_size} px, {os.cpu_count()} CPUs")
    print(
        f"| width | timed step (ms) | estimate, timed at this width (s/epoch) | estimate, scaled from "
        f"{base.base_filters} (s/epoch) | measured epoch {args.epochs} (s) | measured epoch 1 (s) |"
    )
    for _ in range(args.rounds):
        anchor = time_network(base, images, classes)
        for width in args.widths:
            timing = time_network(replace(base, base_filters=width), images, classes)
            direct = TrialCost(timing, classes, n_train, n_val + min(512, n_train))
            scaled = TrialCost(anchor, classes, n_train, n_val + min(512, n_train))
            _, result = train_params(config, data, {**preset, "base_filters": width}, seed=0, epochs=args.epochs)
            print(
                f"| {width} | {timing.step_seconds * 1000:.0f} | {direct.epoch(width):.1f} "
                f"| {scaled.epoch(width):.1f} | {result.seconds[-1]:.1f} | {result.seconds[0]:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
