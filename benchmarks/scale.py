"""Many workers on one study (issue 28): N simulated workers on the local Postgres, directly or
through `hpo proxy`.

    python benchmarks/scale.py --workers 8 32 --via direct proxy [--n-trials 400] [--pg URL]

Each worker (`tests.helpers.simworker`) runs hpo's real worker path — TPE sampler, median
pruner asked every epoch, heartbeat, stale-trial retry, study lock and exact cap, outage
handling — with the training replaced by ``--epochs`` sleeps of 0.2-2 s; no TensorFlow. Per
run: trials/hour (wall clock from the first worker's start to the last one's exit), p50/p95
of ask, tell, report (+ pruner), heartbeat and study-lock wait, errors (workers that did not
exit 0, errors they reported), the peak number of Postgres connections of the database,
and at the end: cap exact, RUNNING left, params finished twice. One JSON line per run is
appended to benchmarks/scale.jsonl and a Markdown row printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import PG_URL  # noqa: E402
from tests.helpers.studyfiles import write_study  # noqa: E402
from tests.helpers.workerkit import start_proxy, start_simworker  # noqa: E402

OUT = ROOT / "benchmarks" / "scale.jsonl"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
OPS = ("ask", "tell", "report", "heartbeat", "lock")


def connections(pg: str, stop: threading.Event, peak: list[int]) -> None:
    """Peak count of other sessions on the database of ``pg``, sampled every second."""
    import psycopg

    with psycopg.connect(pg, autocommit=True) as con:
        while not stop.wait(1.0):
            n = con.execute("select count(*) from pg_stat_activity where datname = current_database()").fetchone()
            peak[0] = max(peak[0], int(n[0]) - 1 if n else 0)


def study_file(tmp: Path, name: str, storage: str, n_trials: int, heartbeat: int) -> Path:
    return write_study(
        tmp,
        name,
        tmp,
        study={
            "n_trials": n_trials,
            "storage": storage,
            "heartbeat_interval": heartbeat,
            "grace_period": 4 * heartbeat,
            "enqueue_baseline": False,
        },
        sampler={"n_startup_trials": 10},
        pruner={"type": "median", "min_resource": None, "reduction_factor": None, "n_warmup_steps": 2},
    )


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=20)
    return statistics.median(values), q[18]


def check(study: optuna.Study, cap: int) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    params = [tuple(sorted(t.params.items())) for t in finished]
    return {
        "finished": len(finished),
        "cap_exact": len(finished) == cap,
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "duplicates": len(params) - len(set(params)),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
    }


def run(n: int, via: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    name = f"scale-{via}-{n}-{uuid.uuid4().hex[:6]}"
    proxy = start_proxy(args.pg, args.port, tmp / f"{name}.proxy.log") if via == "proxy" else None
    storage = f"grpc://127.0.0.1:{args.port}" if proxy else args.pg
    toml = study_file(tmp, name, storage, args.n_trials, args.heartbeat)
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=connections, args=(args.pg, stop, peak), daemon=True)
    sampler.start()
    t0 = time.monotonic()
    workers = []
    for i in range(n):
        opts = ["--epochs", str(args.epochs), "--epoch-s", *map(str, args.epoch_s)]
        opts += ["--stats", str(tmp / f"{name}.w{i}.json")]
        workers.append(start_simworker(toml, f"w{i}", *opts, log=tmp / f"{name}.w{i}.log"))
    codes = []
    for w in workers:
        try:
            codes.append(w.wait(timeout=max(1.0, args.limit_s - (time.monotonic() - t0))))
        except subprocess.TimeoutExpired:
            w.kill()
            codes.append(w.wait())
    wall = time.monotonic() - t0
    stop.set()
    proxy_code = None
    if proxy is not None:
        proxy.send_signal(signal.SIGTERM)
        proxy_code = proxy.wait(timeout=60)
    stats = []
    for i in range(n):
        with contextlib.suppress(OSError, ValueError):
            stats.append(json.loads((tmp / f"{name}.w{i}.json").read_text()))
    ms: dict[str, list[float]] = {op: [] for op in OPS}
    for s in stats:
        for op in OPS:
            ms[op] += s["ms"].get(op, [])
    logs = [(tmp / f"{name}.w{i}.log").read_text(errors="replace") for i in range(n)]
    study = optuna.load_study(study_name=name, storage=args.pg)
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "workers": n,
        "via": via,
        "n_trials": args.n_trials,
        "epochs": args.epochs,
        "epoch_s": args.epoch_s,
        "heartbeat_s": args.heartbeat,
        "wall_s": round(wall, 1),
        "exit_codes": {str(c): codes.count(c) for c in sorted(set(codes))},
        "proxy_exit": proxy_code,
        "errors": sum(c != 0 for c in codes),  # workers that stopped on an error (each says why in its log)
        "error_lines": sorted({ln for log in logs for ln in log.splitlines() if "error" in ln.lower()})[:5],
        "outages": sum(s.get("outages", 0) for s in stats),
        "tensorflow_imported": any(s.get("tensorflow") for s in stats),
        "worker_rss_mb": round(max((s["maxrss_mb"] for s in stats), default=0), 1),
        "pg_connections_peak": peak[0],
        "load": os.getloadavg()[0],
        **{f"{op}_ms": [round(v, 1) for v in percentiles(ms[op])] for op in OPS},
        **check(study, args.n_trials),
    }
    result["trials_per_h"] = round(result["finished"] / wall * 3600)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=args.pg)
    return result


def row(r: dict[str, Any]) -> str:
    p = lambda op: "{} / {}".format(*r[f"{op}_ms"])  # noqa: E731
    return (
        f"| {r['workers']} | {r['via']} | {r['n_trials']} | {r['wall_s']:.0f} | {r['trials_per_h']} | {p('ask')} "
        f"| {p('tell')} | {p('report')} | {p('heartbeat')} | {p('lock')} | {r['errors']} | {r['pg_connections_peak']} "
        f"| {'yes' if r['cap_exact'] else 'NO'} | {r['running']} | {r['duplicates']} | {r['load']:.1f} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, nargs="+", default=[8])
    p.add_argument("--via", nargs="+", choices=("direct", "proxy"), default=["direct", "proxy"])
    p.add_argument("--n-trials", type=int, default=200)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-s", type=float, nargs=2, default=(0.2, 2.0))
    p.add_argument("--heartbeat", type=int, default=5, help="heartbeat interval (grace period: 4x)")
    p.add_argument("--pg", default=PG_URL)
    p.add_argument("--port", type=int, default=13077)
    p.add_argument("--limit-s", type=float, default=1200, help="workers still running then are killed")
    args = p.parse_args()
    print("| N | via | trials | wall s | trials/h | ask p50/p95 ms | tell | report+prune | heartbeat | lock wait "
          "| errors | PG conns | cap exact | RUNNING | dups | load |")  # fmt: skip
    print("|" + "---|" * 16)
    with tempfile.TemporaryDirectory(prefix="hpo-scale-") as tmp:
        for n in args.workers:
            for via in args.via:
                r = run(n, via, args, Path(tmp))
                with OUT.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                print(row(r), flush=True)
                if r["error_lines"]:
                    print("   errors:", *r["error_lines"], sep="\n   ", flush=True)


if __name__ == "__main__":
    main()
