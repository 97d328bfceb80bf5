"""Idempotency records: one execution per (caller scope, method, request_id), its answer kept >= 24 h.

A record is claimed IN_PROGRESS with an owner and a lease before the handler runs, then COMPLETED
with the serialized response, or with the google.rpc.Status of a non-retryable error so a replay
raises the same error. Retryable failures release the key. A claim whose lease ran out (its owner
crashed) is taken over by the next request with the same payload. Writes go through a
GroupCommitter, so concurrent requests share commits. The interceptor that drives this is
`common.interceptors.idempotency`.
"""

from __future__ import annotations

import hashlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import psycopg
import structlog
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from common.errors import FareboxError, InvalidArgument, Unavailable
from common.group_commit import GroupCommitter
from common.periodic import Periodic
from common.request_context import current_principal
from common.settings import Env, SettingsError

log = structlog.get_logger()

MIN_RETENTION = timedelta(hours=24)
MAX_REQUEST_ID_LENGTH = 256
METADATA_KEY = "idempotency-key"
REQUEST_ID_FIELD = "request_id"

# Failures a client may retry with the same key: they release the key instead of being stored.
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass(frozen=True)
class IdempotencySettings:
    """How long a claim is leased, how long a duplicate waits, how long answers are kept."""

    lease: timedelta = timedelta(seconds=60)
    wait: timedelta = timedelta(seconds=1)
    retention: timedelta = MIN_RETENTION
    purge_interval: timedelta = timedelta(hours=1)

    @classmethod
    def from_env(cls, env: Env, prefix: str) -> IdempotencySettings:
        """Reads `<PREFIX>_IDEMPOTENCY_LEASE`, `_WAIT`, `_RETENTION` (at least 24h) and `_PURGE_INTERVAL`."""
        defaults = cls()
        retention = env.duration(f"{prefix}_IDEMPOTENCY_RETENTION", defaults.retention)
        if retention < MIN_RETENTION:
            raise SettingsError(f"{prefix}_IDEMPOTENCY_RETENTION must be at least 24h")
        return cls(
            lease=env.duration(f"{prefix}_IDEMPOTENCY_LEASE", defaults.lease),
            wait=env.duration(f"{prefix}_IDEMPOTENCY_WAIT", defaults.wait),
            retention=retention,
            purge_interval=env.duration(f"{prefix}_IDEMPOTENCY_PURGE_INTERVAL", defaults.purge_interval),
        )


@dataclass(frozen=True)
class IdempotencyKey:
    """Who asked, for what method, under which request_id."""

    scope: str
    method: str
    request_id: str


active_key_var: ContextVar[IdempotencyKey] = ContextVar("idempotency_key")


def caller_scope() -> str:
    """The scope keys are unique within: the calling principal's subject."""
    return current_principal().subject


def active_key() -> IdempotencyKey:
    """The key of the keyed RPC being served; raises LookupError outside one."""
    return active_key_var.get()


def request_id_of(request: Message, metadata: Any) -> str:
    """The request's `request_id` field, or else its `idempotency-key` metadata; both must agree."""
    from_field = str(getattr(request, REQUEST_ID_FIELD, ""))
    from_metadata = next((str(value) for name, value in metadata or () if name == METADATA_KEY), "")
    if from_field and from_metadata and from_field != from_metadata:
        raise InvalidArgument(
            "request_id differs from the idempotency-key metadata",
            field_violations=[(REQUEST_ID_FIELD, "must equal the idempotency-key metadata")],
        )
    request_id = from_field or from_metadata
    if not request_id:
        raise InvalidArgument(
            "request_id is required",
            field_violations=[(REQUEST_ID_FIELD, "required: set request_id or the idempotency-key metadata")],
        )
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise InvalidArgument(
            "request_id is too long",
            field_violations=[(REQUEST_ID_FIELD, f"at most {MAX_REQUEST_ID_LENGTH} characters")],
        )
    return request_id


def payload_hash(request: Message) -> bytes:
    """SHA-256 of the request without its request_id, serialized deterministically."""
    if _has_request_id(request) and getattr(request, REQUEST_ID_FIELD):
        request = _copy_without_request_id(request)
    return hashlib.sha256(request.SerializeToString(deterministic=True)).digest()


def _has_request_id(request: Message) -> bool:
    return REQUEST_ID_FIELD in request.DESCRIPTOR.fields_by_name


def _copy_without_request_id(request: Message) -> Message:
    clone = type(request)()
    clone.CopyFrom(request)
    clone.ClearField(REQUEST_ID_FIELD)
    return clone


def error_status(error: FareboxError) -> bytes:
    """The serialized google.rpc.Status a domain error is sent as."""
    trailing = dict(error.to_status().trailing_metadata)
    return bytes(trailing[rpc_status.GRPC_DETAILS_METADATA_KEY])


class ReplayedError(FareboxError):
    """A stored non-retryable error, raised again for a replayed request."""

    def __init__(self, stored: bytes) -> None:
        self._status = status_pb2.Status.FromString(stored)
        super().__init__(self._status.message, reason=_reason_of(self._status))
        self.code = rpc_status.code_to_grpc_status_code(self._status.code)

    def to_status(self) -> grpc.Status:
        """The stored status, unchanged."""
        return rpc_status.to_status(self._status)


def _reason_of(status: status_pb2.Status) -> str | None:
    for item in status.details:
        if item.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            item.Unpack(info)
            return str(info.reason)
    return None


@dataclass(frozen=True)
class KeyRecord:
    """A key's record as another request finds it."""

    completed: bool
    payload_hash: bytes
    response: bytes | None
    error_status: bytes | None
    lease_expired: bool


_COLUMNS = """status = 'COMPLETED' AS completed, payload_hash, response, error_status,
    coalesce(lease_expires_at < now(), false) AS lease_expired"""

_CLAIM = """
INSERT INTO idempotency_keys (scope, method, request_id, status, payload_hash, owner, lease_expires_at)
VALUES (%(scope)s, %(method)s, %(request_id)s, 'IN_PROGRESS', %(hash)s, %(owner)s,
        now() + make_interval(secs => %(lease)s))
ON CONFLICT (scope, method, request_id) DO UPDATE
    SET owner = EXCLUDED.owner, lease_expires_at = EXCLUDED.lease_expires_at
    WHERE idempotency_keys.status = 'IN_PROGRESS'
      AND idempotency_keys.lease_expires_at < now()
      AND idempotency_keys.payload_hash = EXCLUDED.payload_hash
RETURNING owner
"""

_READ = f"""
SELECT {_COLUMNS} FROM idempotency_keys
WHERE scope = %(scope)s AND method = %(method)s AND request_id = %(request_id)s
"""

_COMPLETE = """
UPDATE idempotency_keys
SET status = 'COMPLETED', response = %(response)s, error_status = %(error_status)s,
    completed_at = now(), owner = NULL, lease_expires_at = NULL
WHERE scope = %(scope)s AND method = %(method)s AND request_id = %(request_id)s
  AND status = 'IN_PROGRESS' AND owner = %(owner)s
"""

_RELEASE = """
DELETE FROM idempotency_keys
WHERE scope = %(scope)s AND method = %(method)s AND request_id = %(request_id)s
  AND status = 'IN_PROGRESS' AND owner = %(owner)s
"""

_PURGE = """
DELETE FROM idempotency_keys WHERE ctid IN (
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => %(retention)s)
      AND (status = 'COMPLETED' OR lease_expires_at < now())
    LIMIT %(batch)s
)
"""


def _key_params(key: IdempotencyKey) -> dict[str, Any]:
    return {"scope": key.scope, "method": key.method, "request_id": key.request_id}


def _unavailable() -> Unavailable:
    return Unavailable("the idempotency store is unreachable", reason="DATABASE_UNAVAILABLE")


def _record(row: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        completed=row["completed"],
        payload_hash=bytes(row["payload_hash"]),
        response=None if row["response"] is None else bytes(row["response"]),
        error_status=None if row["error_status"] is None else bytes(row["error_status"]),
        lease_expired=row["lease_expired"],
    )


class IdempotencyStore:
    """The `idempotency_keys` table: claims and completions through group commit, reads on the pool."""

    def __init__(self, pool: AsyncConnectionPool, committer: GroupCommitter) -> None:
        self._pool = pool
        self._committer = committer

    async def claim(
        self, key: IdempotencyKey, digest: bytes, owner: uuid.UUID, lease: timedelta
    ) -> KeyRecord | None:
        """Claims the key for `owner` (new, or abandoned with the same payload): None; else its record."""
        params = {**_key_params(key), "hash": digest, "owner": owner, "lease": lease.total_seconds()}

        async def work(conn: AsyncConnection[Any]) -> KeyRecord | None:
            async with conn.cursor(row_factory=dict_row) as cursor:
                while True:
                    if await (await cursor.execute(_CLAIM, params)).fetchone() is not None:
                        return None
                    row = await (await cursor.execute(_READ, params)).fetchone()
                    if row is not None:  # else its owner released it between the two statements
                        return _record(row)

        try:
            return await self._committer.run(work)
        except psycopg.OperationalError as error:
            raise _unavailable() from error

    async def read(self, key: IdempotencyKey) -> KeyRecord | None:
        """The key's record, or None when there is none."""
        try:
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
                row = await (await cursor.execute(_READ, _key_params(key))).fetchone()
        except psycopg.OperationalError as error:
            raise _unavailable() from error
        return None if row is None else _record(row)

    async def complete(
        self,
        key: IdempotencyKey,
        owner: uuid.UUID,
        *,
        response: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        """Stores the answer; False when `owner` no longer holds the key (its lease was taken over)."""
        params = {**_key_params(key), "owner": owner, "response": response, "error_status": error}

        async def work(conn: AsyncConnection[Any]) -> bool:
            return (await conn.execute(_COMPLETE, params)).rowcount == 1

        return await self._committer.run(work)

    async def release(self, key: IdempotencyKey, owner: uuid.UUID) -> None:
        """Deletes `owner`'s claim so the request can run again."""
        params = {**_key_params(key), "owner": owner}

        async def work(conn: AsyncConnection[Any]) -> None:
            await conn.execute(_RELEASE, params)

        await self._committer.run(work)

    async def purge(self, retention: timedelta = MIN_RETENTION, batch: int = 5000) -> int:
        """Deletes records older than `retention` (at least 24 h), in batches; returns how many."""
        if retention < MIN_RETENTION:
            raise ValueError("idempotency keys are kept at least 24 hours")
        params = {"retention": retention.total_seconds(), "batch": batch}
        deleted = 0
        while True:
            async with self._pool.connection() as conn:
                count = (await conn.execute(_PURGE, params)).rowcount
            deleted += count
            if count < batch:
                return deleted


class KeyPurger:
    """Purges old idempotency records periodically; safe to run in every replica at once."""

    def __init__(self, store: IdempotencyStore, settings: IdempotencySettings) -> None:
        self._store = store
        self._settings = settings
        self._loop = Periodic("idempotency_purge", self.purge_once, settings.purge_interval)

    async def purge_once(self) -> int:
        """Deletes the records past their retention once; returns how many."""
        deleted = await self._store.purge(self._settings.retention)
        log.info("idempotency_keys_purged", deleted=deleted)
        return deleted

    def start(self) -> None:
        """Purges in the background until `stop`; a failed round is logged and the next tries again."""
        self._loop.start()

    async def stop(self) -> None:
        """Stops purging."""
        await self._loop.stop()
