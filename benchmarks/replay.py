"""Replay samplers x pruners on a space table (`benchmarks/space_table.py`), in seconds, many seeds.

    python benchmarks/replay.py [--study studies/cifar10-mini.toml] [--seeds 20] [--minutes 10 25 50]
                                [--methods hpo tpe+none ...] [--json out.json]

Each replay is a real Optuna study with the sampler and pruner under test — hpo's own ones built by
`hpo.study.study.make_sampler` / `pruner_from` from the study file — started as `hpo search` starts
it (the baseline enqueued and exempt from pruning, then the study's presets). A trial's params are
sampled with hpo's search-space code (`hpo.model.space.suggest`) and then **looked up**: the
nearest configuration of the table (numeric dimensions scaled to [0, 1] over the study's range, in
log space where the dimension is log-scaled; a differing choice, switch or conditional dimension
counts 1). A nearest-neighbour table rather than a surrogate model: every replayed trial then is
a network that was really trained, with its own curve, so a replay never scores a config better
than anything measured (a surrogate fitted on ~50 noisy points would invent an optimum), and the
regret is exact against the table; the price is that the space is as coarse as the table is small.

The trial then "trains": each epoch costs its recorded CPU seconds / `CPU_PER_WALL` (what the
epoch takes on a quiet 2-CPU machine; the table is grown beside other work, so its wall seconds
count that work too), reports its val accuracy to the pruner as
`KerasPruningCallback` does, stops early after ``[training] early_stopping_patience`` epochs without
a better val accuracy, and a completed trial is worth its best val epoch (and that epoch's test
accuracy, as the weights kept would score). At each budget B (simulated minutes, one worker) the
search's result is the completed trial with the best val finished by B. Reported per method: regret
of that val against the table's best val, regret of its test accuracy against the table's best test
(test is read only here, never to choose), its test minus the preset's, and the trials started;
mean over seeds with a 95 % bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState
from replay_methods import METHODS, Method  # benchmarks/, beside this file
from space_table import paths, read_table

import hpo
from hpo.config import StudyConfig
from hpo.config.space import DIMENSIONS, FloatRange, IntRange
from hpo.model.space import baseline_trial_params, suggest
from hpo.records.trial import baseline_attrs

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")  # CmaEsSampler x0: deprecated, kept
#: CPU seconds a trial's process spends per wall second on a quiet 2-CPU machine: the preset's epoch
#: took 10.2 s there (BENCHMARKS.md, bf16 on an AVX512-BF16 CPU, float32 rows) and 14.8 CPU s in the table
CPU_PER_WALL = 1.45


class Table:
    """The trained configurations and the nearest-configuration look-up."""

    def __init__(self, rows: list[dict[str, Any]], config: StudyConfig) -> None:
        self.rows = [r for r in rows if r["seed"] == 0]  # replicates measure noise; they are not configs
        self.space = config.search
        self.best_val = max(max(r["val"]) for r in self.rows)
        self.best_test = max(self.kept_test(r, len(r["val"])) for r in self.rows)
        self._keys = sorted({k for r in self.rows for k in r["params"]})
        self._numeric = [k for k in self._keys if isinstance(getattr(self.space, k, None), (FloatRange, IntRange))]
        self._choices = [k for k in self._keys if k not in self._numeric]
        self._num = np.array([self._scaled(r["params"]) for r in self.rows])
        self._cat = [[r["params"].get(k) for k in self._choices] for r in self.rows]

    @staticmethod
    def kept_test(row: dict[str, Any], epochs: int) -> float:
        """Test accuracy of the best val epoch among the first ``epochs``."""
        val = row["val"][:epochs]
        return float(row["test"][int(np.argmax(val))])

    def _scaled(self, params: dict[str, Any]) -> list[float]:
        """Numeric params in [0, 1] over the study's range (log-scaled where the dimension is); NaN: absent."""
        out = []
        for key in self._numeric:
            rng, value = getattr(self.space, key), params.get(key)
            lo, hi = float(rng.low), float(rng.high)
            if value is None or hi == lo:
                out.append(math.nan if value is None else 0.0)
                continue
            x = float(value)
            if DIMENSIONS[key].log:
                lo, hi, x = math.log(lo), math.log(hi), math.log(x)
            out.append((x - lo) / (hi - lo))
        return out

    def nearest(self, params: dict[str, Any]) -> dict[str, Any]:
        """The table's configuration closest to ``params`` (ties: the earlier row)."""
        v = np.array(self._scaled(params))
        gap = np.abs(self._num - v)
        one_absent = np.isnan(self._num) != np.isnan(v)
        d = np.where(one_absent, 1.0, np.nan_to_num(gap)).sum(1)
        cat = [params.get(k) for k in self._choices]
        d += np.array([sum(a != b for a, b in zip(row, cat, strict=True)) for row in self._cat])
        return self.rows[int(np.argmin(d))]


@dataclass
class Run:
    """One replayed search: the trials it started, and (finish second, val, test) of each completed one."""

    started: int = 0
    done: list[tuple[float, float, float]] = field(default_factory=list)

    def best_by(self, seconds: float) -> tuple[float, float, float] | None:
        """The completed trial with the best val among those finished by ``seconds``."""
        return max((r for r in self.done if r[0] <= seconds), key=lambda r: r[1], default=None)


def replay_one(table: Table, config: StudyConfig, method: Method, seed: int, horizon_s: float) -> Run:
    cfg = replace(config, study=replace(config.study, seed=seed))
    sampler, pruner = method.build(cfg)
    study = optuna.create_study(
        study_name=f"{config.study.name}-replay-{seed}", direction="maximize", sampler=sampler, pruner=pruner
    )
    study.enqueue_trial(baseline_trial_params(cfg.search), user_attrs=baseline_attrs())
    for params in cfg.study.enqueue if method.presets else ():
        study.enqueue_trial(params)
    patience, clock, run = cfg.training.early_stopping_patience, 0.0, Run()
    while clock < horizon_s:
        trial = study.ask()
        run.started += 1
        suggest(trial, cfg.search)
        row = table.nearest(trial.params)
        baseline = bool(trial.user_attrs.get("baseline"))
        best, since, pruned = -1.0, 0, False
        for epoch, value in enumerate(row["val"]):
            clock += row["cpu_seconds"][epoch] / CPU_PER_WALL
            trial.report(value, epoch)
            best, since = (value, 0) if value > best else (best, since + 1)
            pruned = not baseline and trial.should_prune()
            if pruned or (patience and since >= patience):
                break
        if pruned:
            study.tell(trial, state=TrialState.PRUNED)
            continue
        study.tell(trial, best)
        run.done.append((clock, best, table.kept_test(row, epoch + 1)))
    return run


def _interval(xs: list[float], rng: np.random.Generator) -> tuple[float, float, float]:
    a = np.asarray(xs)
    boots = rng.choice(a, size=(2000, len(a))).mean(1)
    return float(a.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def summarize(table: Table, runs: list[Run], minutes: list[float], preset_test: float) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for b in minutes:
        vals, tests, gains, none = [], [], [], 0
        for run in runs:
            best = run.best_by(b * 60)
            if best is None:
                none += 1
                vals.append(100 * table.best_val)
                tests.append(100 * table.best_test)
                gains.append(-100 * preset_test)
                continue
            _, val, test = best
            vals.append(100 * (table.best_val - val))
            tests.append(100 * (table.best_test - test))
            gains.append(100 * (test - preset_test))
        out[f"{b:g}"] = {
            "val_regret": _interval(vals, rng),
            "test_regret": _interval(tests, rng),
            "test_minus_preset": _interval(gains, rng),
            "none_finished": none,
        }
    out["trials_started"] = float(np.mean([run.started for run in runs]))
    return out


def rank_agreement(table: Table, epochs: list[int]) -> dict[int, float]:
    """Spearman rank correlation between val accuracy at an epoch and the best val of the full run."""
    from scipy.stats import spearmanr

    final = [max(r["val"]) for r in table.rows]
    return {e: float(spearmanr([r["val"][e - 1] for r in table.rows], final).statistic) for e in epochs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, default=Path("studies/cifar10-mini.toml"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 25, 50])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--table", type=Path, default=None, help="default: benchmarks/data/<study>-table.jsonl")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here too")
    args = ap.parse_args()
    config = hpo.Study.from_file(args.study).config
    rows = read_table(args.table or paths(args.study.stem)[1])
    table = Table(rows, config)
    preset = next(r for r in table.rows if r["id"] == "preset")
    preset_test = table.kept_test(preset, len(preset["val"]))
    replicas = [r for r in rows if r["kind"] in ("preset", "replicate")]
    print(
        f"table: {len(table.rows)} configurations (+{len(rows) - len(table.rows)} replicates), best val "
        f"{table.best_val:.4f}, best test {table.best_test:.4f}; preset val {max(preset['val']):.4f} test "
        f"{preset_test:.4f}; preset over {len(replicas)} seeds: val "
        + ", ".join(f"{max(r['val']):.4f}" for r in replicas)
    )
    agree = rank_agreement(table, [e for e in (1, 3, 5, 9, 15) if e <= config.training.max_epochs])
    print("rank agreement with the full run (Spearman):", ", ".join(f"epoch {e}: {v:.2f}" for e, v in agree.items()))
    horizon = max(args.minutes) * 60
    results = {}
    head = " | ".join(f"{b:g} min: val regret / test regret / test - preset" for b in args.minutes)
    print(f"| method | {head} | trials |\n|---|{'---|' * len(args.minutes)}---|")
    for name in args.methods:
        runs = [replay_one(table, config, METHODS[name], seed, horizon) for seed in range(args.seeds)]
        results[name] = summarize(table, runs, args.minutes, preset_test)
        cells = [_cell(results[name][f"{b:g}"]) for b in args.minutes]
        print(f"| {name} | {' | '.join(cells)} | {results[name]['trials_started']:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rank_agreement": agree, "results": results, "seeds": args.seeds}, indent=1))


def _cell(s: dict[str, Any]) -> str:
    f: Callable[[tuple[float, float, float]], str] = lambda t: f"{t[0]:.1f} [{t[1]:.1f}, {t[2]:.1f}]"  # noqa: E731
    return f"{f(s['val_regret'])} / {f(s['test_regret'])} / {s['test_minus_preset'][0]:+.1f}"


if __name__ == "__main__":
    main()
