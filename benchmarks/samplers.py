"""TPE's start-up: random trials vs. trials near the best so far (issue 25, Build 2).

    python benchmarks/samplers.py STUDY.toml [--startups random local] [--seeds 0 1] [--n-trials 20]
                                             [--at 5 10 20] [--max-epochs E] [--out DIR]

One fresh study per (startup, seed) — the study file's space, data, pruner and starting points
(the baseline and ``[[study.enqueue]]`` presets count as trials, the same in every run), its
``[sampler] n_startup_trials``, with ``[sampler] startup`` and ``[study] seed`` set here — each
searched in its own process to ``--n-trials`` finished trials, on a SQLite file in ``--out``
(kept: rerunning continues those studies). Prints, per run, the best val accuracy after the
first N trials (by trial number) for each N of ``--at``, then the mean per startup. Equal
trials, not equal minutes: the columns compare proposals, whatever the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def _config(study_file: Path, startup: str, seed: int, out: Path, max_epochs: int | None):  # type: ignore[no-untyped-def]
    from hpo.config import load_config

    config = load_config(study_file)
    name = f"{config.study.name}-{startup}-s{seed}"
    study = replace(config.study, name=name, seed=seed, storage=f"sqlite:///{out / name}.db", timeout=None)
    training = replace(config.training, max_epochs=max_epochs) if max_epochs else config.training
    return replace(config, study=study, sampler=replace(config.sampler, startup=startup), training=training)


def child(args: argparse.Namespace) -> None:
    import hpo

    config = _config(args.study, args.child_startup, args.child_seed, args.out, args.max_epochs)
    hpo.Study(config).search(n_trials=args.n_trials)


def best_after(study_file: Path, startup: str, seed: int, out: Path, at: list[int]) -> list[float | None]:
    import optuna

    from hpo.study.study import FINISHED

    name = _config(study_file, startup, seed, out, None).study.name
    trials = optuna.load_study(study_name=name, storage=f"sqlite:///{out / name}.db").get_trials(states=FINISHED)
    values = [t.value if t.value is not None else 0.0 for t in sorted(trials, key=lambda t: t.number)]
    return [max(values[:n]) if len(values) >= n else None for n in at]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--startups", nargs="+", default=["random", "local"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--n-trials", type=int, default=20)
    ap.add_argument("--at", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--max-epochs", type=int, default=None, help="default: the study file's")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "bench-samplers")
    ap.add_argument("--child-startup", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-seed", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.study, args.out = args.study.resolve(), args.out.resolve()
    if args.child_startup is not None:
        child(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[float | None]]] = {s: [] for s in args.startups}
    for seed in args.seeds:
        for startup in args.startups:
            cmd = [sys.executable, __file__, str(args.study), "--n-trials", str(args.n_trials), "--out", str(args.out)]
            cmd += ["--child-startup", startup, "--child-seed", str(seed)]
            cmd += ["--max-epochs", str(args.max_epochs)] if args.max_epochs else []
            subprocess.run(cmd, cwd=ROOT, check=True)
            rows[startup].append(best_after(args.study, startup, seed, args.out, args.at))
            print(f"| {startup} | {seed} | " + " | ".join(_fmt(v) for v in rows[startup][-1]) + " |", flush=True)
    print("\n| startup | seed | " + " | ".join(f"best val after {n} trials" for n in args.at) + " |")
    print("|---|---|" + "---|" * len(args.at))
    for startup, runs in rows.items():
        for seed, row in zip(args.seeds, runs, strict=True):
            print(f"| {startup} | {seed} | " + " | ".join(_fmt(v) for v in row) + " |")
        means = [statistics.mean(col) if all(v is not None for v in col) else None for col in zip(*runs, strict=True)]
        print(f"| {startup} | mean | " + " | ".join(_fmt(v) for v in means) + " |")  # type: ignore[arg-type]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
