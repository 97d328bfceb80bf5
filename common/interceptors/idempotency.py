"""The idempotency-key interceptor, for every RPC whose contract policy is IDEMPOTENCY_KEYED.

An IDEMPOTENCY_KEYED_BY_HANDLER method only has its key checked here (present, not too long, the
same in the field and the metadata) and put in its request_id; its handler does the rest, so the
hot path pays no stored answer (SeatInventory's HoldSeats derives the hold's id from the key).

The first request with a key claims it and runs; its answer is stored and every later request with
the same key and payload gets that answer again (also after a restart). The same key with another
payload is INVALID_ARGUMENT (IDEMPOTENCY_KEY_REUSED). A duplicate arriving while the first still
runs waits up to the configured time (never past its own deadline), then gets ABORTED
(REQUEST_IN_PROGRESS) with a retry delay. Retryable failures release the key. Keyed methods are
unary. Add it as an inner interceptor: `standard_interceptors(IdempotencyInterceptor(store))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

import grpc
import structlog
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_interceptor import AsyncServerInterceptor

from common.errors import FareboxError, IdempotencyKeyReused, RequestInProgress
from common.idempotency import (
    RETRYABLE_CODES,
    IdempotencyKey,
    IdempotencySettings,
    IdempotencyStore,
    KeyRecord,
    ReplayedError,
    active_key_var,
    caller_scope,
    error_status,
    payload_hash,
    request_id_of,
)
from common.interceptors.handler import call_handler
from common.policy import Idempotency, policy_for
from common.request_context import time_remaining

log = structlog.get_logger()

ReplayHook = Callable[[str], None]

# Time kept back from the caller's deadline when deciding how long a duplicate may wait.
_DEADLINE_MARGIN_S = 0.05


def _no_hook(_method: str) -> None:
    """The default replay hook; metrics plug a counter in here."""


class IdempotencyInterceptor(AsyncServerInterceptor):
    """Runs each keyed request once per (caller scope, method, request_id) and replays its answer."""

    def __init__(
        self,
        store: IdempotencyStore,
        settings: IdempotencySettings | None = None,
        *,
        on_replay: ReplayHook = _no_hook,
        poll_interval: timedelta = timedelta(milliseconds=50),
    ) -> None:
        self._store = store
        self._settings = settings or IdempotencySettings()
        self._on_replay = on_replay
        self._poll_s = poll_interval.total_seconds()
        self._running: dict[IdempotencyKey, asyncio.Event] = {}
        self._releases: set[asyncio.Task[None]] = set()

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        idempotency = _idempotency_of(method_name)
        if idempotency not in _KEYED:
            return await call_handler(method, request, context)
        request_id = request_id_of(request, context.invocation_metadata())
        if idempotency == Idempotency.IDEMPOTENCY_KEYED_BY_HANDLER:
            request.request_id = request_id
            structlog.contextvars.bind_contextvars(request_id=request_id)
            return await call_handler(method, request, context)
        key = IdempotencyKey(caller_scope(), method_name, request_id)
        structlog.contextvars.bind_contextvars(request_id=key.request_id)
        token = active_key_var.set(key)
        try:
            return await self._serve(key, payload_hash(request), method, request, context)
        finally:
            active_key_var.reset(token)

    async def _serve(
        self, key: IdempotencyKey, digest: bytes, method: Any, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        owner = uuid.uuid4()
        give_up_at = time.monotonic() + self._wait_budget()
        record = await self._store.claim(key, digest, owner, self._lease())
        while record is not None:
            if record.payload_hash != digest:
                raise IdempotencyKeyReused(
                    "request_id was already used with a different request",
                    field_violations=[("request_id", "already used with a different request")],
                )
            if record.completed:
                return self._replay(key, record)
            if time.monotonic() >= give_up_at:
                log.info("idempotency_request_in_progress", method=key.method)
                raise RequestInProgress()
            await self._pause(key, give_up_at)
            record = await self._store.read(key)
            if record is None or (record.lease_expired and not record.completed):
                record = await self._store.claim(key, digest, owner, self._lease())
        return await self._execute(key, owner, method, request, context)

    async def _execute(
        self,
        key: IdempotencyKey,
        owner: uuid.UUID,
        method: Any,
        request: Any,
        context: grpc.aio.ServicerContext,
    ) -> Any:
        finished = asyncio.Event()
        self._running[key] = finished
        try:
            try:
                response = await call_handler(method, request, context)
            except FareboxError as error:
                if error.code in RETRYABLE_CODES:
                    await self._release(key, owner)
                else:
                    await self._record(key, owner, error=error_status(error))
                raise
            except BaseException:
                await self._release(key, owner)
                raise
            await self._record(key, owner, response=response.SerializeToString())
            return response
        finally:
            finished.set()
            if self._running.get(key) is finished:
                del self._running[key]

    def _replay(self, key: IdempotencyKey, record: KeyRecord) -> Message:
        self._on_replay(key.method)
        log.info("idempotent_replay", method=key.method, error=record.error_status is not None)
        if record.error_status is not None:
            raise ReplayedError(record.error_status)
        return _response_class(key.method).FromString(record.response or b"")

    async def _pause(self, key: IdempotencyKey, give_up_at: float) -> None:
        """Waits until a local owner finishes, or one poll interval for an owner in another process."""
        timeout = max(0.0, min(self._poll_s, give_up_at - time.monotonic()))
        finished = self._running.get(key)
        if finished is None:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), timeout)

    async def _record(
        self,
        key: IdempotencyKey,
        owner: uuid.UUID,
        *,
        response: bytes | None = None,
        error: bytes | None = None,
    ) -> None:
        """Stores the answer; a failure here leaves the claim to expire, and the caller still gets it."""
        try:
            stored = await self._store.complete(key, owner, response=response, error=error)
        except Exception:  # the answer is still sent; the lease expires
            log.exception("idempotency_record_failed", method=key.method)
            return
        if not stored:
            log.warning("idempotency_lease_lost", method=key.method)

    async def _release(self, key: IdempotencyKey, owner: uuid.UUID) -> None:
        """Releases the claim, finishing even when the call itself was cancelled."""
        task = asyncio.ensure_future(self._store.release(key, owner))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)
        try:
            await asyncio.shield(task)
        except Exception:  # the claim then expires with its lease
            log.exception("idempotency_release_failed", method=key.method)

    def _wait_budget(self) -> float:
        """How long a duplicate may wait: the configured wait, cut to the caller's deadline."""
        budget = self._settings.wait.total_seconds()
        remaining = time_remaining()
        if remaining is not None:
            budget = min(budget, remaining - _DEADLINE_MARGIN_S)
        return max(0.0, budget)

    def _lease(self) -> timedelta:
        """The configured lease, stretched to outlast the caller's deadline."""
        remaining = time_remaining()
        if remaining is not None and remaining > self._settings.lease.total_seconds():
            return timedelta(seconds=remaining + 1)
        return self._settings.lease


_KEYED = (Idempotency.IDEMPOTENCY_KEYED, Idempotency.IDEMPOTENCY_KEYED_BY_HANDLER)


@cache
def _idempotency_of(method_name: str) -> int:
    policy = policy_for(method_name)
    return Idempotency.IDEMPOTENCY_UNSPECIFIED if policy is None else int(policy.idempotency)


@cache
def _response_class(method_name: str) -> type[Message]:
    service, _, method = method_name.lstrip("/").rpartition("/")
    descriptor = descriptor_pool.Default().FindMethodByName(f"{service}.{method}")
    response_class: type[Message] = message_factory.GetMessageClass(descriptor.output_type)
    return response_class
