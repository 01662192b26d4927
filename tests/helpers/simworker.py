"""A simulated worker: hpo's real worker path (`run_search`: open the study, sampler, pruner,
heartbeat, stale-trial retry, study lock and exact cap, outage handling, a report every
epoch) with the training replaced by a timed stub, and no TensorFlow imported.

    python -m tests.helpers.simworker STUDY.toml --id w3 [--epochs 10] [--epoch-s 0.2 2] [--stats OUT.json]

The stub's value rises with the epochs and peaks at ``learning_rate`` = 3e-3, so TPE and the
pruner have something to learn. ``--stats`` writes what the worker measured (milliseconds per
ask, tell, report + pruner, heartbeat, study-lock wait) and its peak memory. Exit codes are
`hpo worker`'s (0 done, 143 after SIGTERM, the `HpoError`'s code).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from hpo.config import StudyConfig
from hpo.config.load import load_config
from hpo.errors import HpoError
from hpo.records.trial import TrialRecord, write
from hpo.study.contract import EpochHook, ObjectiveFactory
from hpo.study.progress import SearchProgress
from hpo.study.run import SearchInterrupted, run_search
from hpo.workers.process import install_signal_handlers, interrupted_exit_code, worker_name

__all__ = ["Timings", "stub_objective"]


class Timings:
    """Milliseconds per operation, in this process."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def timed(self, op: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[op].append((time.perf_counter() - t0) * 1e3)

    def wrap(self, owner: Any, name: str, op: str) -> None:
        """Time every call of ``owner.name`` (a class attribute) as ``op``."""
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timed(op):
                return inner(*args, **kwargs)

        setattr(owner, name, timed)


class StubObjective:
    """`hpo.study.contract.TrialObjective` without training: ``epochs`` sleeps of ``epoch_s``."""

    def __init__(
        self, worker: str, on_start: Callable[[], None], on_epoch: EpochHook, epochs: int, epoch_s: tuple[float, float]
    ) -> None:
        self.worker, self.on_start, self.on_epoch = worker, on_start, on_epoch
        self.epochs, self.epoch_s = epochs, epoch_s
        self.current: int | None = None
        self.timings = Timings()

    def __call__(self, trial: optuna.Trial) -> float:
        self.current = trial.number
        self.on_start()
        write(trial, TrialRecord(worker=self.worker))
        lr = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
        trial.suggest_int("width", 8, 128, log=True)
        quality = max(0.0, 1.0 - abs(math.log10(lr) + 2.5) / 3)
        rng = random.Random(f"{trial.number}:{lr}")
        best = 0.0
        for epoch in range(self.epochs):
            time.sleep(rng.uniform(*self.epoch_s))
            value = quality * (1 - math.exp(-(epoch + 1) / 3)) + rng.gauss(0, 0.01)
            best = max(best, value)
            with self.timings.timed("report"):
                trial.report(value, epoch)
                pruned = trial.should_prune()
            self.on_epoch(trial.number, epoch + 1, self.epochs, value)
            if pruned:
                raise optuna.TrialPruned()
        return best


def stub_objective(epochs: int, epoch_s: tuple[float, float], made: list[StubObjective]) -> ObjectiveFactory:
    """The `ObjectiveFactory` of `StubObjective`; each objective made is appended to ``made``."""

    def make(
        config: StudyConfig, data: Any, worker: str, *, on_start: Callable[[], None], on_epoch: EpochHook
    ) -> StubObjective:
        objective = StubObjective(worker, on_start, on_epoch, epochs, epoch_s)
        made.append(objective)
        return objective

    return make


def _instrument(timings: Timings) -> None:
    """Time ask, tell, heartbeats and the study-lock wait where hpo and Optuna make them."""
    import optuna.study._optimize as optimize

    from hpo.workers.heartbeat import HeartbeatStorage
    from hpo.workers.slots import SlotLock

    timings.wrap(optuna.Study, "ask", "ask")
    timings.wrap(optimize, "_tell_with_warning", "tell")
    timings.wrap(HeartbeatStorage, "record_heartbeat", "heartbeat")
    timings.wrap(SlotLock, "acquire", "lock")
    try:
        from hpo.workers.proxy import ProxyStorage
    except ImportError:
        return
    timings.wrap(ProxyStorage, "record_heartbeat", "heartbeat")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="simworker")
    p.add_argument("study", type=Path)
    p.add_argument("--id", default="sim")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-s", type=float, nargs=2, default=(0.2, 2.0))
    p.add_argument("--stats", type=Path)
    args = p.parse_args(argv)
    install_signal_handlers()
    timings, made, lines = Timings(), [], []
    _instrument(timings)
    config = load_config(args.study)
    name = worker_name(args.id)
    progress = SearchProgress(config.study.n_trials, live=False, quiet=True)
    code, error = 0, ""
    try:
        run_search(config, None, worker=name, progress=progress, on_trial=lines.append,  # type: ignore[arg-type]
                   make_objective=stub_objective(args.epochs, tuple(args.epoch_s), made))  # fmt: skip
    except SearchInterrupted:
        code = interrupted_exit_code()
    except HpoError as exc:
        code, error = exc.exit_code, str(exc)
    finally:
        if args.stats is not None:
            for objective in made:
                for op, values in objective.timings.ms.items():
                    timings.ms[op] += values
            stats = {
                "worker": name,
                "ms": timings.ms,
                "trials": sum(ln.startswith("trial ") for ln in lines),
                "outages": sum(ln.startswith("storage ") and "stopped answering" in ln for ln in lines),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "tensorflow": "tensorflow" in sys.modules,
                "error": error,
            }
            args.stats.write_text(json.dumps(stats))
    if error:
        print(f"hpo: error: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
