"""hpo vs KerasTuner at the same wall-clock budget, on the same splits, one after the other.

    pip install -e '.[bench]'     # keras-tuner: a benchmark-only extra
    python benchmarks/peers.py [--study studies/cifar10-mini.toml] [--search-s S]
                               [--only hpo|keras-tuner] [--out models/bench-peers]

Both sides get the same deadline for starting trials (``--search-s``, default: the study's own
``[study] timeout``, so hpo's side is exactly ``make bench-accuracy``), then train their final
model, on the study's prepared splits (the same images, the same train/val/test rows), and are
scored once on the test split:

1. **hpo**: ``make bench-accuracy`` (`accuracy_cifar10_mini.py`): ``hpo search`` with the study
   file as it is, then ``hpo export`` (best trial retrained on train+val for its best epoch
   count); minutes are those two steps.
2. **KerasTuner Hyperband** over the seed's knobs (learning rate, batch size, L2, dropout, depth,
   width) on the seed's network (hpo's CNN with everything else at the baseline's values), max
   ``--kt-max-epochs`` epochs, as many Hyperband iterations as start before the deadline (one
   iteration alone ends early and would leave KerasTuner's share of the budget unused); the best
   trial is then retrained on train+val for its best epoch count, as hpo's export does.

Prints a markdown table row per side (test accuracy, trials, epochs trained, minutes) and writes
``OUT/peers.json``. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def run_hpo(study: Path, out: Path, search_s: float) -> dict[str, Any]:
    """hpo's side: `benchmarks/accuracy_cifar10_mini.py` (``make bench-accuracy``: ``hpo search``
    + ``hpo export`` through the real CLI on a fresh SQLite study, then the baseline exported the
    same way, outside the timed budget)."""
    bench = out / "hpo"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "accuracy_cifar10_mini.py"), "--study", str(study)]
    subprocess.run([*cmd, "--out", str(bench), "--timeout", str(search_s)], check=True)
    result = json.loads((bench / "result.json").read_text())
    import hpo

    metrics = hpo.ExportMetrics.load(bench / "searched")
    trials = hpo.Study.from_file(study, storage=result["storage"]).optuna_study().get_trials()
    epochs = sum(len(t.intermediate_values) for t in trials) + metrics.epochs
    return {
        "test_accuracy": metrics.test_accuracy,
        "baseline_test_accuracy": result["baseline"]["test_accuracy"],
        "trials": len(trials),
        "epochs": epochs,
        "minutes": result["search_plus_export_minutes"],
    }


def run_keras_tuner(study: Path, out: Path, search_s: float, max_epochs: int, seed: int) -> dict[str, Any]:
    """KerasTuner's side, in this process, on the prepared splits of the same study."""
    import keras
    import keras_tuner as kt
    import numpy as np

    import hpo
    from hpo.model.cnn import build_cnn, compile_model, make_optimizer
    from hpo.model.space import CNNParams

    data = hpo.Study.from_file(study).data()
    (x_tr, y_tr), (x_val, y_val) = data.arrays("train"), data.arrays("val")
    x_test, y_test = data.arrays("test")

    def params(hp: Any) -> CNNParams:
        l2 = hp.Float("l2", 1e-6, 1e-2, sampling="log") if hp.Boolean("l2_on") else 0.0
        return CNNParams(
            learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
            batch_size=hp.Choice("batch_size", [32, 64, 128]),
            l2=l2,
            dropout=hp.Float("dropout", 0.0, 0.6),
            depth=hp.Int("depth", 1, 4),
            base_filters=hp.Choice("base_filters", [16, 32, 48, 64]),
        )

    class SeedKnobs(kt.HyperModel):  # type: ignore[misc]
        def build(self, hp: Any) -> keras.Model:
            p = params(hp)
            model = build_cnn(p, data.num_classes, data.image_size)
            return compile_model(model, p.recipe, make_optimizer(p.recipe, 1, 1))

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=params(hp).batch_size, **kwargs)

    deadline = time.monotonic() + search_s

    class Budgeted(kt.Hyperband):  # type: ignore[misc]
        """Hyperband that starts no trial after the deadline (KerasTuner has no timeout)."""

        def on_trial_begin(self, trial: Any) -> None:
            if time.monotonic() > deadline:
                raise kt.errors.FatalError("budget reached")
            super().on_trial_begin(trial)

    t0 = time.perf_counter()
    tuner = Budgeted(
        SeedKnobs(),
        objective="val_accuracy",
        max_epochs=max_epochs,
        factor=3,
        hyperband_iterations=1000,  # the deadline ends the search, not the iteration count
        seed=seed,
        directory=str(out),
        project_name="keras-tuner",
        overwrite=True,
    )
    try:
        tuner.search(x_tr, y_tr, validation_data=(x_val, y_val), verbose=0)
    except kt.errors.FatalError as exc:
        if "budget reached" not in str(exc):
            raise
    trials = [t for t in tuner.oracle.trials.values() if t.metrics.exists("val_accuracy")]  # ran
    # epochs each trial trained: KerasTuner records one (best) observation per trial, and a
    # Hyperband trial goes on from its parent's weights at tuner/initial_epoch
    epochs = sum(t.hyperparameters.get("tuner/epochs") - t.hyperparameters.get("tuner/initial_epoch") for t in trials)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best = tuner.oracle.get_best_trials(1)[0]
    # the epoch (counted from the start: a Hyperband trial may go on from its parent's weights) of its best value
    best_obs = max(best.metrics.get_history("val_accuracy"), key=lambda o: o.value[0])
    best_epochs = int(best_obs.step) + 1
    # as hpo's export: the best trial's network retrained on train+val for its best epoch count
    keras.utils.set_random_seed(seed)
    model = SeedKnobs().build(best_hp)
    x_all, y_all = data.arrays("train", "val")
    SeedKnobs().fit(best_hp, model, x_all, y_all, epochs=best_epochs, verbose=0)
    probs = np.asarray(model.predict(x_test, batch_size=256, verbose=0))
    minutes = (time.perf_counter() - t0) / 60
    accuracy = float(np.mean(probs.argmax(1) == y_test))
    return {"test_accuracy": accuracy, "trials": len(trials), "epochs": epochs + best_epochs, "minutes": minutes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, default=ROOT / "studies" / "cifar10-mini.toml")
    ap.add_argument("--search-s", type=float, help="no trial starts after this (default: the study's timeout)")
    ap.add_argument("--kt-max-epochs", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "bench-peers")
    ap.add_argument("--only", choices=("hpo", "keras-tuner"), help="run one side")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from hpo.config import load_config

    config = load_config(args.study)
    seed, search_s = config.study.seed, args.search_s or config.study.timeout
    if not search_s:
        sys.exit(f"{args.study}: set [study] timeout or pass --search-s")
    saved = args.out / "peers.json"  # one side at a time (--only) adds to the other's result
    results: dict[str, Any] = json.loads(saved.read_text()) if args.only and saved.is_file() else {}
    if args.only in (None, "hpo"):
        results["hpo"] = run_hpo(args.study, args.out, search_s)
    if args.only in (None, "keras-tuner"):
        results["keras-tuner"] = run_keras_tuner(args.study, args.out, search_s, args.kt_max_epochs, seed)
    results["setup"] = {"search_s": search_s, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    saved.write_text(json.dumps(results, indent=1))
    print("| side | test accuracy | trials | epochs trained | minutes |\n|---|---|---|---|---|")
    for side in ("hpo", "keras-tuner"):
        if side in results:
            r = results[side]
            print(f"| {side} | {r['test_accuracy']:.4f} | {r['trials']} | {r['epochs']} | {r['minutes']:.1f} |")


if __name__ == "__main__":
    main()
