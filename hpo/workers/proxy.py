"""Workers on ``grpc://host:port``: the study through `hpo proxy` (Optuna's gRPC storage proxy)
instead of a database connection per worker.

Optuna's proxy API (`optuna.storages.GrpcStorageProxy`) carries every study and trial call, but
not the three things hpo's workers add to Optuna's (``hpo.workers.heartbeat``, ``slots``):

- **heartbeats and the stale-trial check**: `ProxyStorage` is a `BaseHeartbeat`, so Optuna's
  heartbeat thread, ``fail_stale_trials`` and `RetryHeartbeatStaleTrialCallback` work as on
  the database; its ``record_heartbeat`` and ``_get_stale_trial_ids`` are two extra calls that
  the proxy answers with hpo's `HeartbeatStorage` (which also writes the stale trial's
  ``fail_reason``);
- **the study lock of the exact cap**: `ProxyLock` keeps a streaming call open for as long as
  the worker holds the lock; the proxy holds the same Postgres advisory lock (`DatabaseLock`)
  meanwhile, queueing its callers in-process, and releases it when the stream ends — also when
  the worker dies, since its connection closes;
- **outages**: a database error in the proxy reaches the worker as ``UNAVAILABLE``, like the
  proxy itself being down, and `hpo.workers.outage` waits for either.

The calls of hpo's service travel as JSON (no generated code): `hpo.workers.proxy_server`.
"""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Callable, Iterator
from typing import Any

import optuna
from optuna.storages import GrpcStorageProxy, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial

from hpo.errors import HpoError, StorageUnavailable
from hpo.workers.experimental import experimental
from hpo.workers.heartbeat import error_line, retry_source
from hpo.workers.url import StorageUrl

__all__ = ["SERVICE", "ProxyLock", "ProxyStorage", "decode", "encode", "rpc_code"]

SERVICE = "hpo.Proxy"  # hpo's own calls beside Optuna's StorageService
CONNECT_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)


def encode(message: Any) -> bytes:
    return json.dumps(message).encode()


def decode(data: bytes) -> Any:
    return json.loads(data)


def rpc_code(exc: BaseException) -> str | None:
    """The gRPC status name of ``exc`` (``"UNAVAILABLE"``), None for anything else; read without
    importing grpc, which only the `grpc` extra brings."""
    code = getattr(exc, "code", None)
    if not callable(code):
        return None
    try:
        return str(getattr(code(), "name", "")) or None
    except Exception:
        return None


class ProxyStorage(GrpcStorageProxy, BaseHeartbeat):
    """Optuna's gRPC client plus hpo's heartbeat calls. ``location``: the ``grpc://`` URL."""

    def __init__(
        self,
        location: StorageUrl,
        *,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        max_retry: int | None = None,
    ) -> None:
        assert location.address is not None
        self.location = location
        self.heartbeat_interval, self.grace_period, self.max_retry = heartbeat_interval, grace_period, max_retry
        with experimental():
            super().__init__(host=location.address[0], port=location.address[1])
        try:
            self.wait_server_ready(timeout=CONNECT_TIMEOUT_S)
        except ConnectionError:
            self.close()
            raise StorageUnavailable(
                f"no storage proxy answers at {location} after {CONNECT_TIMEOUT_S:.0f} s — start `hpo proxy` "
                "there (or check the address)"
            ) from None

    def _setup(self) -> None:
        super()._setup()
        unary: Callable[[str], Any] = lambda name: self._channel.unary_unary(  # noqa: E731
            f"/{SERVICE}/{name}", request_serializer=encode, response_deserializer=decode
        )
        self._heartbeat, self._stale = unary("Heartbeat"), unary("Stale")
        self.lock_call = self._channel.stream_stream(
            f"/{SERVICE}/Lock", request_serializer=encode, response_deserializer=decode
        )

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self._heartbeat({"trial_id": trial_id})
        except Exception as exc:  # the thread must live on: the next beat may get through
            log.warning("heartbeat of trial id %d not recorded (%s); retrying next interval", trial_id, error_line(exc))

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        request = {"study_id": study_id, "interval": self.heartbeat_interval, "grace": self.grace_period}
        return [int(i) for i in self._stale(request)]

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        if not self.heartbeat_interval:
            return None
        with experimental():
            retry = RetryHeartbeatStaleTrialCallback(max_retry=self.max_retry)
        return lambda study, failed: retry(study, retry_source(failed))


class ProxyLock:
    """The `DatabaseLock` named ``name``, held by the proxy for this worker while a streaming
    call stays open (see the module docstring)."""

    def __init__(self, storage: ProxyStorage, name: str, *, timeout: float, what: str) -> None:
        self._storage, self._name, self.timeout, self.what = storage, name, timeout, what
        self._call: Any = None
        self._requests: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def _stream(self) -> Iterator[dict[str, Any]]:
        while (message := self._requests.get()) is not None:
            yield message

    def acquire(self) -> None:
        if self._call is not None:
            return
        self._requests = queue.SimpleQueue()
        self._requests.put({"name": self._name, "timeout": self.timeout, "what": self.what})
        call = self._storage.lock_call(self._stream())
        try:
            next(call)  # the proxy answers once it holds the lock
        except BaseException as exc:
            call.cancel()
            self._requests.put(None)
            if rpc_code(exc) == "DEADLINE_EXCEEDED":
                raise HpoError(exc.details()) from None  # type: ignore[attr-defined]
            raise
        self._call = call

    def release(self) -> None:
        call, self._call = self._call, None
        if call is None:
            return
        self._requests.put(None)  # the stream ends: the proxy releases the lock, then the call ends
        try:
            for _ in call:
                pass
        except Exception as exc:  # the proxy is gone, and so is its database session and the lock
            if rpc_code(exc) is None:
                raise
