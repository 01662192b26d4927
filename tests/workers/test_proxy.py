"""`hpo proxy` and workers on ``grpc://`` (issue 28): the proxy starts and stops like every
command, workers behind it keep the exact cap, and a worker SIGKILLed behind it has its trial
failed and retried. The workers are simulated (`tests.helpers.simworker`: hpo's real worker
path with a timed stub instead of training), so these tests take seconds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.errors import StorageError, StorageUnavailable
from hpo.workers.slots import SlotLock
from hpo.workers.storage import make_storage
from hpo.workers.url import parse_url
from tests.helpers import ROOT, assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study
from tests.helpers.workerkit import (
    assert_complete_study,
    free_port,
    opened,
    start_proxy,
    start_simworker,
    unique_studies,
    wait_for,
)

FAST = ("--epochs", "3", "--epoch-s", "0.05", "0.1")


@pytest.fixture
def proxy(pg_url: str, tmp_path: Path) -> Iterator[str]:
    """A running `hpo proxy` on the test database; its ``grpc://`` URL."""
    port = free_port()
    proc = start_proxy(pg_url, port, tmp_path / "proxy.log")
    yield f"grpc://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture
def grpc_study(proxy: str, pg_url: str, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """A study file whose storage is the proxy (fast heartbeats); the studies are deleted after."""
    with unique_studies(pg_url) as new_name:

        def make(**study: object) -> Path:
            fields = {"storage": proxy, "heartbeat_interval": 1, "grace_period": 3, "enqueue_baseline": False, **study}
            return write_study(tmp_path, new_name(), tmp_path, study=fields, pruner={"type": "median"})

        yield make


def test_grpc_urls_are_parsed_once() -> None:
    url = parse_url("grpc://proxy.example:13000")
    assert (url.kind, url.address, url.local) == ("grpc", ("proxy.example", 13000), False)
    with pytest.raises(StorageError, match="needs a host and a port"):
        parse_url("grpc://proxy.example")


def test_no_proxy_at_the_address_is_an_outage_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hpo.workers.proxy.CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(StorageUnavailable, match="no storage proxy answers"):
        make_storage(f"grpc://127.0.0.1:{free_port()}")


def test_proxy_starts_and_stops_cleanly_on_sigterm(pg_url: str, tmp_path: Path) -> None:
    port = free_port()
    proc = start_proxy(pg_url, port, tmp_path / "proxy.log")
    check = run_hpo("db", "check", f"grpc://127.0.0.1:{port}")
    assert check.returncode == 0 and "hpo proxy (gRPC)" in check.stdout, check.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    out = (tmp_path / "proxy.log").read_text()
    assert "stopped by signal (SIGTERM)" in out and "Traceback" not in out, out


def test_proxy_input_errors_are_one_line(pg_url: str, tmp_path: Path) -> None:
    assert_user_error(run_hpo("proxy", env={"HPO_STORAGE_URL": "", "OPTUNA_STORAGE": ""}), "give --storage URL")
    assert_user_error(run_hpo("proxy", "--storage", "grpc://127.0.0.1:1"), "serves a database")
    port = free_port()
    busy = start_proxy(pg_url, port, tmp_path / "busy.log")
    try:
        assert_user_error(run_hpo("proxy", "--storage", pg_url, "--port", str(port)), "cannot listen", sole=False)
    finally:
        busy.kill()
        busy.wait()


def test_two_workers_through_the_proxy_keep_the_exact_cap(grpc_study: Callable[..., Path], pg_url: str) -> None:
    toml = grpc_study(n_trials=8)
    logs = [toml.with_suffix(f".w{i}.log") for i in range(2)]
    stats = [toml.with_suffix(f".w{i}.json") for i in range(2)]
    workers = [start_simworker(toml, f"w{i}", *FAST, "--stats", str(stats[i]), log=logs[i]) for i in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0], [log.read_text() for log in logs]
    with opened(pg_url) as storage:
        trials = optuna.load_study(study_name=toml.stem, storage=storage).get_trials()
    assert_complete_study(trials, 8)
    assert {t.user_attrs["worker"].split("@")[0] for t in trials} == {"w0", "w1"}
    assert all(t.intermediate_values for t in trials)  # reported every epoch, through the proxy
    measured = [json.loads(s.read_text()) for s in stats]
    assert not any(m["tensorflow"] for m in measured)  # the simulated path never imports TensorFlow
    assert all(m["ms"]["heartbeat"] for m in measured)  # heartbeats went through the proxy


def test_worker_sigkilled_behind_the_proxy_is_failed_and_retried(grpc_study: Callable[..., Path], pg_url: str) -> None:
    toml = grpc_study(n_trials=4)
    slow = ("--epochs", "6", "--epoch-s", "0.4", "0.5")
    victim = start_simworker(toml, "victim", *slow, log=toml.with_suffix(".victim.log"))

    def running() -> list[optuna.trial.FrozenTrial]:
        with opened(pg_url) as storage:
            try:
                study = optuna.load_study(study_name=toml.stem, storage=storage)
            except KeyError:
                return []
            return [t for t in study.get_trials() if t.state == TrialState.RUNNING and t.intermediate_values]

    wait_for(lambda: bool(running()), 60, "the victim's trial to report an epoch")
    killed = running()[0]
    victim.kill()
    victim.wait()
    peer = start_simworker(toml, "peer", *FAST, log=toml.with_suffix(".peer.log"))
    assert peer.wait(timeout=120) == 0, toml.with_suffix(".peer.log").read_text()
    with opened(pg_url) as storage:
        trials = optuna.load_study(study_name=toml.stem, storage=storage).get_trials()
    assert_complete_study(trials, 4)
    failed = trials[killed.number]
    assert failed.state == TrialState.FAIL
    assert "worker victim@" in failed.user_attrs["fail_reason"], failed.user_attrs
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)


HOLD = """
import sys, time
from hpo.workers.slots import SlotLock
from hpo.workers.storage import make_storage
lock = SlotLock(make_storage(sys.argv[1]), sys.argv[2])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_proxy_frees_the_study_lock_of_a_killed_worker(proxy: str) -> None:
    name = f"lock-{uuid.uuid4().hex[:8]}"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, proxy, name], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = SlotLock(make_storage(proxy), name, timeout=1)
        with pytest.raises(Exception, match="waited 1 s for the study lock"):
            lock.acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = SlotLock(make_storage(proxy), name, timeout=20)
    t0 = time.monotonic()
    with lock:
        assert time.monotonic() - t0 < 20
