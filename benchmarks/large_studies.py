"""What a person pays to look at a big study (issue 35): `hpo report`, `hpo trials` and
`hpo best` on an SQLite study of N finished trials drawn from the real search space (the growth
benchmark's filler: `scale_growth.synthetic_trials`, 10 epochs each, 1 in 3 pruned).

    python benchmarks/large_studies.py [--trials 10000] [--objectives 1] [--db /tmp/large.db] [--keep]

Each command runs in its own process under `/usr/bin/time -v` (wall seconds, peak RSS); the
report's size is the file's. An existing --db with the study is reused (filling 10,000 trials
takes minutes). Appends one JSON line per command to benchmarks/scale.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale_growth import OUT, synthetic_trials  # noqa: E402

from hpo.config.load import load_config  # noqa: E402
from tests.helpers.studyfiles import write_study  # noqa: E402


def fill(db: Path, name: str, toml: Path, n: int, objectives: int) -> float:
    """Create the study in ``db`` with ``n`` trials (skipped when it is there); seconds taken."""
    url = f"sqlite:///{db}"
    if name in optuna.get_all_study_names(url):
        return 0.0
    t0 = time.monotonic()
    directions = ["maximize", "minimize"][:objectives]
    target = optuna.create_study(study_name=name, storage=url, directions=directions)
    trials = synthetic_trials(load_config(toml), n, seed=n)
    if objectives == 2:  # val accuracy against a cost: params times a random factor, no pruning (Optuna can't)
        trials = [_two_objective(t) for t in trials]
    for start in range(0, n, 1000):
        target.add_trials(trials[start : start + 1000])
        print(f"filled {min(start + 1000, n)}/{n}", flush=True)
    return time.monotonic() - t0


def _two_objective(t: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    curve = [t.intermediate_values[k] for k in sorted(t.intermediate_values)]
    acc = max(curve)
    cost = 1e4 * (1 + 10 * acc) * (1 + (hash(t.number) % 97) / 97)
    return optuna.trial.create_trial(
        params=t.params,
        distributions=t.distributions,
        values=[acc, cost],
        user_attrs={**t.user_attrs, "val_accuracy_curve": curve},
    )


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under /usr/bin/time -v: wall seconds, peak RSS MB, output bytes, exit status."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        t0 = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", log.name, *cmd], cwd=ROOT, capture_output=True)
        wall = time.monotonic() - t0
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(log.name).read_text())
    row: dict[str, Any] = {"s": round(wall, 1), "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None}
    row |= {"rc": proc.returncode, "stdout_bytes": len(proc.stdout)}
    if proc.returncode:
        row["error"] = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=10000)
    p.add_argument("--objectives", type=int, choices=(1, 2), default=1)
    p.add_argument("--db", type=Path, default=None, help="SQLite file (default /tmp/hpo-large-N-K.db)")
    p.add_argument("--only", nargs="*", default=["report", "trials", "best"])
    args = p.parse_args()
    db = args.db or Path(f"/tmp/hpo-large-{args.trials}-{args.objectives}.db")
    name = f"large{args.trials}x{args.objectives}"
    work = db.with_suffix(".d")
    work.mkdir(exist_ok=True)
    study: dict[str, Any] = {"storage": f"sqlite:///{db}", "enqueue_baseline": False, "n_trials": args.trials}
    if args.objectives == 2:
        study["objectives"] = ["val_accuracy", "param_count"]
    toml = write_study(work, name, work, study=study, pruner={"type": "median"})
    filled = fill(db, name, toml, args.trials, args.objectives)
    hpo = [sys.executable, "-m", "hpo"]
    commands = {
        "report": [*hpo, "report", str(toml), "--out", str(work / "report.html")],
        "trials": [*hpo, "trials", str(toml), "--limit", "20", "--sort", "val_accuracy"],
        "trials_json": [*hpo, "trials", str(toml), "--json"],
        "best": [*hpo, "best", str(toml)],
    }
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    for what in args.only:
        row: dict[str, Any] = {"date": now, "large": args.trials, "objectives": args.objectives, "via": what}
        row |= {"fill_s": round(filled, 1)} if filled else {}
        row |= timed(commands[what])
        if what == "report":
            row["report_mb"] = round((work / "report.html").stat().st_size / 1e6, 2)
        row["load"] = round(os.getloadavg()[0], 1)
        print(json.dumps(row), flush=True)
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
