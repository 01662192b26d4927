"""The server side of `hpo proxy`: Optuna's gRPC storage proxy over hpo's storage, plus hpo's
service for what Optuna's API does not carry (`hpo.workers.proxy` says what and why).

- Optuna's ``StorageService`` serves `optuna.storages._CachedStorage` around hpo's
  `HeartbeatStorage`: finished trials are read from the database once, then from memory, and
  every worker shares one small connection pool (SQLAlchemy's 5 + 10 overflow) instead of
  opening its own.
- ``hpo.Proxy/Heartbeat`` and ``/Stale`` run `HeartbeatStorage`'s own code, with the worker's
  heartbeat interval and grace period (so a stale trial is failed with its ``fail_reason``).
- ``hpo.Proxy/Lock`` holds a `DatabaseLock` (the Postgres advisory lock direct workers take)
  while the worker's stream is open. Callers for one lock queue in the proxy on a
  ``threading.Lock`` first, so only the holder waits on the database; each waiting worker
  takes one thread of the pool (``--threads``: more than the workers).
- Any database error becomes ``UNAVAILABLE`` for the worker, which then waits as for an outage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import sqlalchemy
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._grpc.auto_generated import api_pb2_grpc
from optuna.storages._grpc.servicer import OptunaStorageProxyService

from hpo.errors import HpoError
from hpo.workers.heartbeat import HeartbeatStorage, error_line
from hpo.workers.lock import DatabaseLock
from hpo.workers.outage import storage_failure
from hpo.workers.proxy import SERVICE, decode, encode

__all__ = ["DEFAULT_THREADS", "make_server"]

DEFAULT_THREADS = 1024  # one per waiting worker and per call in flight; idle threads cost little
KEEPALIVE = [  # a worker whose machine vanished (no FIN) is noticed within ~20 s: its lock is freed
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.so_reuseport", 0),  # a second proxy on a port in use must fail, not share it
]


def _outage(exc: BaseException) -> bool:
    return storage_failure(exc) is not None or isinstance(exc, sqlalchemy.exc.TimeoutError)


class _DatabaseErrorsUnavailable(grpc.ServerInterceptor):  # type: ignore[misc]
    """A database error inside any unary call reaches the worker as ``UNAVAILABLE``."""

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return inner(request, context)
            except Exception as exc:
                if not _outage(exc):
                    raise
                context.abort(grpc.StatusCode.UNAVAILABLE, f"database: {error_line(exc)}")

        return handler._replace(unary_unary=guarded)


class HpoService:
    """hpo's calls (JSON messages): heartbeats, the stale-trial check and the study lock."""

    def __init__(self, storage: HeartbeatStorage) -> None:
        self.storage = storage
        self._stale_guard = threading.Lock()  # the interval and grace period are set per call
        self._gates: dict[str, threading.Lock] = {}
        self._gates_guard = threading.Lock()

    def heartbeat(self, request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, bool]:
        self.storage.record_heartbeat(int(request["trial_id"]))
        return {"ok": True}

    def stale(self, request: dict[str, Any], context: grpc.ServicerContext) -> list[int]:
        with self._stale_guard:
            self.storage.heartbeat_interval = request["interval"]
            self.storage.grace_period = request["grace"]
            if not self.storage.heartbeat_interval:
                return []
            return self.storage._get_stale_trial_ids(int(request["study_id"]))

    def lock(self, requests: Iterator[dict[str, Any]], context: grpc.ServicerContext) -> Iterator[dict[str, Any]]:
        first = next(requests)
        name, timeout = str(first["name"]), float(first["timeout"])
        deadline = time.monotonic() + timeout
        with self._gates_guard:
            gate = self._gates.setdefault(name, threading.Lock())
        held = DatabaseLock(self.storage.engine, self.storage.location, name, timeout=timeout, what=first["what"])
        if not gate.acquire(timeout=timeout):
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(held._timed_out()))
        try:
            if not context.is_active():  # the worker left while it waited
                return
            held.timeout = max(0.0, deadline - time.monotonic())
            try:
                held.acquire()
            except HpoError as exc:
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc))
            except Exception as exc:
                if not _outage(exc):
                    raise
                context.abort(grpc.StatusCode.UNAVAILABLE, f"database: {error_line(exc)}")
            try:
                yield {"held": True}
                for _ in requests:  # until the worker ends its stream, or its connection goes
                    pass
            except grpc.RpcError:
                pass  # the worker's call was cancelled (it died): release all the same
            finally:
                held.release()
        finally:
            gate.release()

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(method: Callable[[Any, grpc.ServicerContext], Any]) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(method, request_deserializer=decode, response_serializer=encode)

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Heartbeat": unary(self.heartbeat),
                "Stale": unary(self.stale),
                "Lock": grpc.stream_stream_rpc_method_handler(
                    self.lock, request_deserializer=decode, response_serializer=encode
                ),
            },
        )


def make_server(storage: HeartbeatStorage, host: str, port: int, threads: int = DEFAULT_THREADS) -> grpc.Server:
    """A started server for ``storage`` on ``host:port``; `HpoError` when it cannot listen there."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="proxy"),
        interceptors=[_DatabaseErrorsUnavailable()],
        options=KEEPALIVE,
    )
    servicer = OptunaStorageProxyService(_CachedStorage(storage))
    api_pb2_grpc.add_StorageServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_generic_rpc_handlers((HpoService(storage).handler(),))
    shown = f"[{host}]" if ":" in host else host
    try:
        bound = server.add_insecure_port(f"{shown}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise HpoError(
            f"cannot listen on {shown}:{port} (in use, or not an address of this machine) — pick another --port"
        )
    server.start()
    return server
