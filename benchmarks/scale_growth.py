"""What one worker pays as the study grows (issue 28): one ask with TPE and one pruner decision
at 1k and 10k finished trials, directly on Postgres and through `hpo proxy`; and `hpo report`
(wall time, peak memory) and the dashboard's first API answer at the largest size.

    python benchmarks/scale_growth.py [--sizes 1000 10000] [--pg URL] [--no-report]

The trials are drawn from the study's real search space (hpo.model.space.suggest, random
sampler, in memory) with a 10-epoch curve each, 1 in 3 pruned, then copied into the database.
"ask" is Optuna's ask plus the suggest calls that make TPE sample (what a worker does before
it trains); "prune" is a report + should_prune of the median pruner at epoch 5. Each is timed
cold (a new process's first call: the cache is empty) and warm (median of 5 more calls).
Appends one JSON line per size and path to benchmarks/scale.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpo.config.load import load_config  # noqa: E402
from hpo.model.space import suggest  # noqa: E402
from hpo.study.study import make_pruner, make_sampler, study_storage  # noqa: E402
from tests.helpers import PG_URL  # noqa: E402
from tests.helpers.studyfiles import write_study  # noqa: E402
from tests.helpers.workerkit import free_port, start_proxy  # noqa: E402

OUT = ROOT / "benchmarks" / "scale.jsonl"


def synthetic_trials(config: Any, n: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    mem = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    rng = random.Random(seed)
    for _ in range(n):
        trial = mem.ask()
        suggest(trial, config.search)
        quality = rng.uniform(0.3, 0.9)
        epochs = 10 if rng.random() > 1 / 3 else 3
        curve = [quality * (1 - 0.5 ** (e + 1)) for e in range(epochs)]
        for e, v in enumerate(curve):
            trial.report(v, e)
        trial.set_user_attr("worker", f"w{rng.randrange(128)}@bench:1")
        mem.tell(trial, max(curve) if epochs == 10 else None, state=None if epochs == 10 else TrialState.PRUNED)
    return mem.trials


def timed_ask_and_prune(config: Any) -> dict[str, float]:
    """A new worker's first ask and prune (cold), then the median of 5 more (warm), in ms."""
    study = optuna.load_study(
        study_name=config.study.name,
        storage=study_storage(config),
        sampler=make_sampler(config, "growth"),
        pruner=make_pruner(config),
    )
    ask, prune = [], []
    for _ in range(6):
        t0 = time.perf_counter()
        trial = study.ask()
        suggest(trial, config.search)
        ask.append((time.perf_counter() - t0) * 1e3)
        for epoch in range(5):
            trial.report(0.5, epoch)
        t0 = time.perf_counter()
        trial.report(0.5, 5)
        trial.should_prune()
        prune.append((time.perf_counter() - t0) * 1e3)
        study.tell(trial, state=TrialState.FAIL)  # not finished: the study keeps its size
    return {
        "ask_cold_ms": round(ask[0], 1),
        "ask_warm_ms": round(statistics.median(ask[1:]), 1),
        "prune_cold_ms": round(prune[0], 1),
        "prune_warm_ms": round(statistics.median(prune[1:]), 1),
    }


def report_cost(toml: Path, out: Path) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "hpo", "report", str(toml), "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        return {"report_error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"report_s": round(wall, 1), "report_peak_mb": round(peak), "report_mb": round(out.stat().st_size / 1e6, 1)}


def dashboard_cost(toml: Path, study_id: int, tmp: Path) -> dict[str, float]:
    """Seconds until the dashboard answers its study page's first API call (the trials)."""
    port = free_port()
    log = tmp / "dashboard.log"
    cmd = [sys.executable, "-m", "hpo", "dashboard", str(toml), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 120
        while "http://" not in log.read_text() and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(1)
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study_id}?after=0", timeout=300) as r:
            body = r.read()
        first = time.monotonic() - t0
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study_id}?after=0", timeout=300) as r:
            r.read()
        return {"dashboard_api_s": round(first, 1), "dashboard_api_again_s": round(time.monotonic() - t0, 1),
                "dashboard_api_mb": round(len(body) / 1e6, 1)}  # fmt: skip
    except OSError as exc:
        return {"dashboard_error": str(exc)}
    finally:
        proc.kill()  # busy serving, it may not stop on SIGINT for minutes
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--pg", default=PG_URL)
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpo-growth-") as tmp_name:
        tmp = Path(tmp_name)
        name = f"growth-{uuid.uuid4().hex[:6]}"
        study = {"storage": args.pg, "heartbeat_interval": 5, "grace_period": 20, "enqueue_baseline": False}
        toml = write_study(tmp, name, tmp, study=study, sampler={"n_startup_trials": 10}, pruner={"type": "median"})
        config = load_config(toml)
        proxy = start_proxy(args.pg, free_port(), tmp / "proxy.log")
        proxied = write_study(tmp, name, tmp, study={**study, "storage": _proxy_url(tmp / "proxy.log")},
                              sampler={"n_startup_trials": 10}, pruner={"type": "median"})  # fmt: skip
        target = optuna.create_study(study_name=name, storage=args.pg, direction="maximize")
        have = 0
        try:
            for size in args.sizes:
                t0 = time.monotonic()
                target.add_trials(synthetic_trials(config, size - have, seed=size))
                have = size
                for via, file in (("direct", toml), ("proxy", proxied)):
                    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
                    r: dict[str, Any] = {"date": now, "growth": size, "via": via}
                    r["fill_s"] = round(time.monotonic() - t0, 1)
                    r |= timed_ask_and_prune(load_config(file))
                    r["load"] = os.getloadavg()[0]
                    _save(r)
                    if size == max(args.sizes) and via == "direct" and not args.no_report:
                        _save({"date": now, "growth": size, "via": "report", **report_cost(toml, tmp / "report.html")})
                        _save(
                            {
                                "date": now,
                                "growth": size,
                                "via": "dashboard",
                                **dashboard_cost(toml, target._study_id, tmp),
                            }
                        )
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=60)
            optuna.delete_study(study_name=name, storage=args.pg)


def _save(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _proxy_url(log: Path) -> str:
    return "grpc://" + log.read_text().split("served on grpc://")[1].split()[0]


if __name__ == "__main__":
    main()
