"""The idempotency store's own guarantees: purge by age, ownership, and the key helpers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import psycopg
import pytest
from farebox.payment.v1 import payment_service_pb2 as api

from common import errors
from common.idempotency import (
    IdempotencyKey,
    IdempotencyStore,
    ReplayedError,
    error_status,
    payload_hash,
    request_id_of,
)

DIGEST = b"\x01" * 32


def key() -> IdempotencyKey:
    return IdempotencyKey("tester", "/test.Service/Method", uuid.uuid4().hex)


async def test_purge_deletes_only_records_older_than_the_retention(
    store: IdempotencyStore, db: psycopg.AsyncConnection
) -> None:
    old, recent, stuck = key(), key(), key()
    for record, age in ((old, "25 hours"), (recent, "23 hours"), (stuck, "25 hours")):
        owner = uuid.uuid4()
        assert await store.claim(record, DIGEST, owner, timedelta(seconds=1)) is None
        if record is not stuck:
            assert await store.complete(record, owner, response=b"answer")
        await db.execute(
            "UPDATE idempotency_keys SET created_at = now() - %s::interval, lease_expires_at = "
            "CASE WHEN status = 'IN_PROGRESS' THEN now() - interval '1 hour' END WHERE request_id = %s",
            (age, record.request_id),
        )
    await store.purge(timedelta(hours=24), batch=1)
    left = {record.request_id for record in (old, recent, stuck) if await store.read(record) is not None}
    assert left == {recent.request_id}


async def test_purge_refuses_a_retention_under_24_hours(store: IdempotencyStore) -> None:
    with pytest.raises(ValueError, match="24 hours"):
        await store.purge(timedelta(hours=23))


async def test_only_the_owner_completes_or_releases_a_claim(store: IdempotencyStore) -> None:
    record, owner = key(), uuid.uuid4()
    assert await store.claim(record, DIGEST, owner, timedelta(minutes=1)) is None
    await store.release(record, uuid.uuid4())
    assert not await store.complete(record, uuid.uuid4(), response=b"x")
    assert await store.complete(record, owner, response=b"x")
    stored = await store.read(record)
    assert stored is not None and (stored.completed, stored.response) == (True, b"x")


async def test_concurrent_claims_of_one_key_have_one_winner(store: IdempotencyStore) -> None:
    record = key()
    outcomes = await asyncio.gather(
        *(store.claim(record, DIGEST, uuid.uuid4(), timedelta(minutes=1)) for _ in range(20))
    )
    assert sum(outcome is None for outcome in outcomes) == 1


def test_the_payload_hash_ignores_the_request_id_only() -> None:
    base = api.CapturePaymentRequest(payment_id="p1", request_id="a")
    assert payload_hash(base) == payload_hash(api.CapturePaymentRequest(payment_id="p1", request_id="b"))
    assert payload_hash(base) != payload_hash(api.CapturePaymentRequest(payment_id="p2", request_id="a"))
    assert base.request_id == "a"


def test_the_request_id_comes_from_the_field_or_the_metadata() -> None:
    metadata = grpc.aio.Metadata(("idempotency-key", "from-metadata"))
    assert request_id_of(api.VoidPaymentRequest(request_id="field"), ()) == "field"
    assert request_id_of(api.VoidPaymentRequest(), metadata) == "from-metadata"
    with pytest.raises(errors.InvalidArgument):
        request_id_of(api.GetPaymentRequest(), ())


def test_a_stored_error_is_raised_again_with_the_same_status() -> None:
    original = errors.FailedPrecondition("sold out", reason="SOLD_OUT", metadata={"seat": "12A"})
    replayed = ReplayedError(error_status(original))
    assert replayed.code == grpc.StatusCode.FAILED_PRECONDITION
    assert replayed.reason == "SOLD_OUT"
    assert replayed.to_status() == original.to_status()
