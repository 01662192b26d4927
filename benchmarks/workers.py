"""Workers on one machine: the embedded SQLite file vs. a Postgres server, N = 1, 2, 4.

    python benchmarks/workers.py [--workers 1 2 4] [--n-trials 40] [--pg postgresql://…]

For each storage and N, a fresh study on tiny synthetic data (4 classes x 30 images, 16 px,
2 epochs a trial, heartbeat every second so the database sees far more writes than a real
study) is run by N `hpo worker --threads 1` processes started together, as `hpo search
--workers N` starts them. Reports trials/hour (wall clock from start to the last worker's
exit, TensorFlow start-up included), lock errors in the workers' output, whether the cap was
exact, and trials left RUNNING. Prints Markdown rows for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.data_pipeline import cpu_name  # noqa: E402
from tests.helpers.studyfiles import write_study  # noqa: E402

LOCK_MARKERS = ("database is locked", "StorageInternalError", "OperationalError", "deadlock")


def run(storage: str, n: int, n_trials: int, synth: Path, prepared: Path, tmp: Path) -> dict[str, object]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    toml = write_study(
        tmp,
        name,
        synth,
        study={"n_trials": n_trials, "storage": storage, "heartbeat_interval": 1, "grace_period": 10},
        training={"max_epochs": 2},
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpo",
                "worker",
                str(toml),
                "--data",
                str(prepared),
                "--threads",
                "1",
                "--id",
                f"w{i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for i in range(n)
    ]
    outs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - t0
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    result = {
        "storage": "SQLite (WAL)" if storage.startswith("sqlite") else "Postgres",
        "n": n,
        "wall_s": wall,
        "trials_per_hour": finished / wall * 3600,
        "lock_errors": sum(out.count(m) for out in outs for m in LOCK_MARKERS),
        "exit_codes": [p.returncode for p in procs],
        "cap_exact": finished == n_trials,
        "running_left": sum(t.state == TrialState.RUNNING for t in trials),
    }
    if not storage.startswith("sqlite"):
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=storage)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="'' to skip Postgres")
    args = parser.parse_args()

    from hpo.data import prepare
    from hpo.data.synth import synth_dataset

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        synth = tmp / "synth"
        synth_dataset(synth, classes=4, per_class=30, image_size=32, seed=1)
        prepared = tmp / "prepared"
        prepare(synth, prepared, image_size=16, val=0.25, test=0.15, progress=False)
        rows = []
        for n in args.workers:
            storages = [f"sqlite:///{tmp / f'sqlite-{n}.db'}"] + ([args.pg] if args.pg else [])
            for storage in storages:
                r = run(storage, n, args.n_trials, synth, prepared, tmp)
                print(r, flush=True)
                rows.append(r)
    print(f"\n{time.strftime('%Y-%m-%d')} | {cpu_name()}, {os.cpu_count()} CPUs")
    print("| storage | workers | trials | wall | trials/hour | lock errors | cap exact | RUNNING left |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['storage']} | {r['n']} | {args.n_trials} | {r['wall_s']:.0f} s | {r['trials_per_hour']:.0f} "
            f"| {r['lock_errors']} | {'yes' if r['cap_exact'] else 'NO'} | {r['running_left']} |"
        )


if __name__ == "__main__":
    main()
