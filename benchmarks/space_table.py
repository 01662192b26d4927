"""A replayable benchmark of one study's search space: a fixed design of configurations, each
trained once to the full ``[training] max_epochs`` with its learning curves kept.

    python benchmarks/space_table.py design [--study studies/cifar10-mini.toml] [--sobol 28]
    nice -n 19 python benchmarks/space_table.py run [--limit N] [--minutes M]
    python benchmarks/space_table.py status

``design`` writes ``benchmarks/data/<study>-design.json`` once (an existing design is never
rewritten, so every session trains the same configurations): the preset (``[[study.enqueue]]``),
the seed's baseline, the preset's one-dimension neighbours (every other option of a choice, both
ends of a range, a switch turned on at its range's geometric middle; a conditional dimension such
as ``weight_decay`` comes and goes with its parent), a space-filling sample of the whole space
(Optuna's `QMCSampler`, scrambled Sobol over the numeric dimensions; it draws the categorical
ones with its independent sampler) and replicates of the preset under other seeds (the noise
floor). Rows are ordered so that a partly trained table is already useful: preset, baseline,
then Sobol points and neighbours alternately, replicates last.

``run`` trains the rows that ``benchmarks/data/<study>-table.jsonl`` does not hold yet (so it
resumes after any stop) and appends one JSON line per configuration: the per-epoch val and test
accuracy (test is evaluated every epoch with the same BatchNorm statistics as val, so a replay can
read the test accuracy of whatever epoch a search would keep — and decisions are made on val only),
wall and CPU seconds per epoch, the parameter count, machine, date and load. Training is a trial's:
`hpo.study.train.train_params` with the study's data, seed and BatchNorm recalibration, but no
early stopping and no pruner — the replay (`benchmarks/replay.py`) applies both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA = Path(__file__).resolve().parent / "data"


def paths(study_name: str) -> tuple[Path, Path]:
    return DATA / f"{study_name}-design.json", DATA / f"{study_name}-table.jsonl"


def read_table(table: Path) -> list[dict[str, Any]]:
    if not table.exists():
        return []
    return [json.loads(line) for line in table.read_text().splitlines() if line.strip()]


def _complete(space: Any, partial: dict[str, Any]) -> dict[str, Any]:
    """The full Optuna params that `suggest` asks for, given some of them (fixed ones filled)."""
    import optuna

    from hpo.model.space import suggest

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(partial)
    trial = study.ask()
    suggest(trial, space)
    return dict(trial.params)


def _alternatives(space: Any, name: str, value: Any) -> list[Any]:
    """The values of one dimension that a one-dimension neighbour of ``value`` takes: every other
    option of a choice, the ends of a range."""
    from hpo.config.space import Choice

    rng = getattr(space, name)
    if isinstance(rng, Choice):
        return [o for o in rng.options if o != value]
    if rng.low == rng.high:
        return []
    return [v for v in dict.fromkeys((rng.low, rng.high)) if not math.isclose(v, value, rel_tol=1e-9)]


def neighbours(space: Any, preset: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, params) of every configuration that differs from ``preset`` in one dimension
    (a dimension's condition is applied when the params are completed: ``weight_decay`` goes
    with AdamW)."""
    from hpo.config.space import DIMENSIONS, SWITCH_SUFFIX

    out: list[tuple[str, dict[str, Any]]] = []
    for name, value in preset.items():
        if name.endswith(SWITCH_SUFFIX):  # a switch: turn it over (on at the range's geometric middle)
            dim = DIMENSIONS[name.removesuffix(SWITCH_SUFFIX)]
            rng = getattr(space, dim.name)
            changed = {k: v for k, v in preset.items() if k != dim.name} | {name: not value}
            if not value:
                changed[dim.name] = math.sqrt(rng.low * rng.high) if dim.log else (rng.low + rng.high) / 2
            out.append((f"{dim.name}={'off' if value else 'on'}", changed))
            continue
        out += [
            (f"{name}={alt:g}" if isinstance(alt, float) else f"{name}={alt}", {**preset, name: alt})
            for alt in _alternatives(space, name, value)
        ]
    return out


def design(study_path: Path, n_sobol: int, replicates: int) -> list[dict[str, Any]]:
    import optuna

    import hpo
    from hpo.model.space import baseline_trial_params, suggest

    config = hpo.Study.from_file(study_path).config
    space = config.search
    raw = config.study.enqueue[0] if config.study.enqueue else baseline_trial_params(space)
    preset = _complete(space, dict(raw))
    rows = [
        {"id": "preset", "kind": "preset", "label": "the study's preset", "params": preset, "seed": 0},
        {
            "id": "baseline",
            "kind": "baseline",
            "label": "the seed's baseline",
            "params": _complete(space, baseline_trial_params(space)),
            "seed": 0,
        },
    ]
    sampler = optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=0, warn_independent_sampling=False)
    qmc = optuna.create_study(sampler=sampler)
    sobol = []
    for i in range(n_sobol):
        trial = qmc.ask()
        suggest(trial, space)
        qmc.tell(trial, 0.0)
        sobol.append({"id": f"sobol-{i:02d}", "kind": "sobol", "label": "Sobol point", "params": dict(trial.params)})
    near = [
        {"id": f"nb-{label}", "kind": "neighbour", "label": f"preset, {label}", "params": _complete(space, p)}
        for label, p in neighbours(space, preset)
    ]
    for i in range(max(len(sobol), len(near))):
        rows += [dict(r, seed=0) for r in (sobol[i : i + 1] + near[i : i + 1])]
    rows += [
        {"id": f"preset-seed{s}", "kind": "replicate", "label": f"the preset, seed {s}", "params": preset, "seed": s}
        for s in range(1, replicates + 1)
    ]
    return rows


def train_row(study: Any, data: Any, row: dict[str, Any]) -> dict[str, Any]:
    import keras
    from data_pipeline import cpu_name  # benchmarks/, beside this file

    from hpo.model.cnn import inference_accuracy
    from hpo.study.train import release, train_params

    config = replace(study.config, training=replace(study.config.training, early_stopping_patience=0))
    x_test, y_test = data.arrays("test")
    cpu: list[float] = []
    test: list[float] = []

    class EpochExtras(keras.callbacks.Callback):
        """Each epoch's process CPU seconds (all threads: its cost with the machine's load taken
        out, where wall seconds count the other work on the cores), then the test accuracy of its
        weights (after val, so with the BatchNorm statistics val saw; not in either clock), predicted
        by the trained model in inference mode, augmentation off, as val is."""

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.t0 = time.process_time()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            cpu.append(time.process_time() - self.t0)
            test.append(inference_accuracy(self.model, x_test, y_test))

    t0 = time.perf_counter()
    candidate, result = train_params(
        config, data, row["params"], seed=config.study.seed + row["seed"], callbacks=[EpochExtras()]
    )
    wall = time.perf_counter() - t0
    params_count = int(candidate.model.count_params())
    release()
    r4 = lambda xs: [round(float(v), 4) for v in xs]  # noqa: E731
    return {
        **row,
        "epochs": config.training.max_epochs,
        "val": r4(result.curve),
        "test": r4(test),
        "loss": r4(result.history.get("loss", [])),
        "seconds": [round(s, 2) for s in result.seconds],
        "cpu_seconds": [round(s, 2) for s in cpu],
        "wall_s": round(wall, 1),
        "param_count": params_count,
        "machine": f"{platform.node()} {cpu_name()} {os.cpu_count()} CPUs",
        "date": date.today().isoformat(),
        "load": round(os.getloadavg()[0], 1),
    }


def run(study_path: Path, limit: int | None, minutes: float | None) -> None:
    import hpo

    study = hpo.Study.from_file(study_path)
    design_file, table = paths(study_path.stem)
    rows = json.loads(design_file.read_text())
    done = {r["id"] for r in read_table(table)}
    todo = [r for r in rows if r["id"] not in done][:limit]
    print(f"{len(done)} of {len(rows)} configurations in {table.name}; training {len(todo)}", flush=True)
    if not todo:
        return
    data = study.data()
    start = time.monotonic()
    for row in todo:
        if minutes is not None and time.monotonic() - start > minutes * 60:
            print(f"stopped after {minutes:g} minutes (the rest on the next run)", flush=True)
            return
        out = train_row(study, data, row)
        with table.open("a") as f:  # one line a configuration: a stop loses at most the one training
            f.write(json.dumps(out) + "\n")
        print(
            f"{row['id']}: val {max(out['val']):.4f} (epoch {out['val'].index(max(out['val'])) + 1}), "
            f"test@30 {out['test'][-1]:.4f}, {out['wall_s'] / 60:.1f} min wall, "
            f"{sum(out['cpu_seconds']) / 60:.1f} min CPU",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["design", "run", "status"])
    ap.add_argument("--study", type=Path, default=Path("studies/cifar10-mini.toml"))
    ap.add_argument("--sobol", type=int, default=28, help="space-filling points in a new design")
    ap.add_argument("--replicates", type=int, default=2, help="extra seeds of the preset in a new design")
    ap.add_argument("--limit", type=int, default=None, help="train at most N configurations")
    ap.add_argument("--minutes", type=float, default=None, help="start no training after M minutes")
    args = ap.parse_args()
    name = args.study.stem
    design_file, table = paths(name)
    if args.action == "design":
        if design_file.exists():
            raise SystemExit(f"{design_file} exists: a design is never rewritten (delete it to start over)")
        DATA.mkdir(parents=True, exist_ok=True)
        rows = design(args.study, args.sobol, args.replicates)
        design_file.write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {design_file}: {len(rows)} configurations")
    elif args.action == "run":
        run(args.study, args.limit, args.minutes)
    else:
        rows = json.loads(design_file.read_text())
        got = read_table(table)
        print(f"{len(got)} of {len(rows)} configurations trained; {sum(r['wall_s'] for r in got) / 3600:.1f} h wall")


if __name__ == "__main__":
    main()
