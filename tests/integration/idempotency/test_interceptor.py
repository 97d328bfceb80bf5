"""The idempotency-key interceptor: replay, mismatch, duplicates, retryable failures, lease takeover."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import psycopg
import pytest
from farebox.payment.v1 import payment_service_pb2 as api
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from common import errors
from common.idempotency import IdempotencySettings, IdempotencyStore, payload_hash
from tests.integration.idempotency.harness import AUTHORIZE, Scripted, scripted_server


def request(
    script: str = "ok", request_id: str | None = None, amount: int = 100
) -> api.AuthorizePaymentRequest:
    message = api.AuthorizePaymentRequest(
        booking_reference="BK1", payment_token=script, request_id=request_id or ""
    )
    message.amount.amount_minor = amount
    message.amount.currency_code = "EUR"
    if request_id is None:
        message.request_id = f"key-{uuid.uuid4().hex}"
    return message


async def failure(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def records(db: psycopg.AsyncConnection, request_id: str) -> list[tuple[str, bool]]:
    cursor = await db.execute(
        "SELECT status, response IS NOT NULL FROM idempotency_keys WHERE request_id = %s", (request_id,)
    )
    return [tuple(row) for row in await cursor.fetchall()]


async def test_the_first_answer_is_replayed(scripted: Scripted, db: psycopg.AsyncConnection) -> None:
    first_request = request()
    first = await scripted.stub.AuthorizePayment(first_request)
    again = await scripted.stub.AuthorizePayment(first_request)
    assert again == first and first.payment.payment_id.endswith(":1")
    assert scripted.servicer.calls[first_request.request_id] == 1
    assert scripted.replays == [AUTHORIZE]
    assert await records(db, first_request.request_id) == [("COMPLETED", True)]


async def test_the_key_may_come_from_metadata(scripted: Scripted) -> None:
    keyed = request()
    bare = api.AuthorizePaymentRequest()
    bare.CopyFrom(keyed)
    bare.ClearField("request_id")
    first = await scripted.stub.AuthorizePayment(bare, metadata=[("idempotency-key", keyed.request_id)])
    assert await scripted.stub.AuthorizePayment(keyed) == first
    assert scripted.servicer.calls[keyed.request_id] == 1


async def test_a_missing_or_contradictory_key_is_invalid(scripted: Scripted) -> None:
    missing = await failure(scripted.stub.AuthorizePayment(request(request_id="")))
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in errors.bad_request(missing).field_violations] == ["request_id"]
    both = await failure(scripted.stub.AuthorizePayment(request(), metadata=[("idempotency-key", "other")]))
    assert both.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in errors.bad_request(both).field_violations] == ["request_id"]
    too_long = await failure(scripted.stub.AuthorizePayment(request(request_id="k" * 257)))
    assert too_long.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sum(scripted.servicer.calls.values()) == 0


async def test_the_same_key_with_another_payload_is_refused(scripted: Scripted) -> None:
    first = request(amount=100)
    await scripted.stub.AuthorizePayment(first)
    error = await failure(scripted.stub.AuthorizePayment(request(request_id=first.request_id, amount=200)))
    assert (error.code(), errors.error_info(error).reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert [v.field for v in errors.bad_request(error).field_violations] == ["request_id"]
    assert scripted.servicer.calls[first.request_id] == 1


async def test_a_non_retryable_error_is_stored_and_replayed_unchanged(scripted: Scripted) -> None:
    refused = request("refuse")
    first = await failure(scripted.stub.AuthorizePayment(refused))
    again = await failure(scripted.stub.AuthorizePayment(refused))
    assert first.code() == again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first.details() == again.details() == "refused on call 1"
    assert rpc_status.from_call(first) == rpc_status.from_call(again)
    assert errors.error_info(again).metadata["call"] == "1"
    assert scripted.servicer.calls[refused.request_id] == 1


@pytest.mark.parametrize(
    ("script", "code"), [("unavailable", grpc.StatusCode.UNAVAILABLE), ("crash", grpc.StatusCode.INTERNAL)]
)
async def test_retryable_failures_release_the_key(
    scripted: Scripted, db: psycopg.AsyncConnection, script: str, code: grpc.StatusCode
) -> None:
    failing = request(script)
    for attempt in (1, 2):
        assert (await failure(scripted.stub.AuthorizePayment(failing))).code() == code
        assert scripted.servicer.calls[failing.request_id] == attempt
    assert await records(db, failing.request_id) == []


async def test_a_concurrent_duplicate_is_told_to_retry_then_gets_the_answer(scripted: Scripted) -> None:
    gated = request("gate")
    first = asyncio.ensure_future(scripted.stub.AuthorizePayment(gated))
    await scripted.servicer.entered.wait()
    error = await failure(scripted.stub.AuthorizePayment(gated))
    assert (error.code(), errors.error_info(error).reason) == (grpc.StatusCode.ABORTED, "REQUEST_IN_PROGRESS")
    status = rpc_status.from_call(error)
    assert any(detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for detail in status.details)
    scripted.servicer.gate.set()
    answer = await first
    assert await scripted.stub.AuthorizePayment(gated) == answer
    assert scripted.servicer.calls[gated.request_id] == 1


async def test_a_concurrent_duplicate_waits_for_the_first_to_finish(store: IdempotencyStore) -> None:
    async with scripted_server(store, IdempotencySettings(wait=timedelta(seconds=30))) as scripted:
        gated = request("gate")
        first = asyncio.ensure_future(scripted.stub.AuthorizePayment(gated))
        await scripted.servicer.entered.wait()
        duplicates = [asyncio.ensure_future(scripted.stub.AuthorizePayment(gated)) for _ in range(5)]
        await asyncio.sleep(0.2)  # lets the duplicates reach the server; they wait, whenever they arrive
        scripted.servicer.gate.set()
        answers = await asyncio.gather(first, *duplicates)
        assert all(answer == answers[0] for answer in answers)
        assert scripted.servicer.calls[gated.request_id] == 1


async def test_a_cancelled_call_releases_its_key(scripted: Scripted, db: psycopg.AsyncConnection) -> None:
    gated = request("gate")
    error = await failure(scripted.stub.AuthorizePayment(gated, timeout=0.5))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(100):
        if await records(db, gated.request_id) == []:
            break
        await asyncio.sleep(0.05)
    assert await records(db, gated.request_id) == []
    scripted.servicer.gate.set()
    assert (await scripted.stub.AuthorizePayment(gated)).payment.payment_id.endswith(":2")


async def _abandoned_claim(
    db: psycopg.AsyncConnection, message: api.AuthorizePaymentRequest, expired: bool
) -> None:
    """A claim left by an owner that crashed, with its lease run out or not."""
    await db.execute(
        """
        INSERT INTO idempotency_keys
            (scope, method, request_id, status, payload_hash, owner, lease_expires_at)
        VALUES ('', %s, %s, 'IN_PROGRESS', %s, gen_random_uuid(), now() + %s)
        """,
        (AUTHORIZE, message.request_id, payload_hash(message), timedelta(minutes=-1 if expired else 10)),
    )


async def test_an_abandoned_claim_is_taken_over_after_its_lease(
    scripted: Scripted, db: psycopg.AsyncConnection
) -> None:
    message = request()
    await _abandoned_claim(db, message, expired=True)
    answer = await scripted.stub.AuthorizePayment(message)
    assert answer.payment.payment_id.endswith(":1")
    assert await records(db, message.request_id) == [("COMPLETED", True)]


async def test_a_claim_within_its_lease_is_not_taken_over(
    scripted: Scripted, db: psycopg.AsyncConnection
) -> None:
    message = request()
    await _abandoned_claim(db, message, expired=False)
    error = await failure(scripted.stub.AuthorizePayment(message))
    assert errors.error_info(error).reason == "REQUEST_IN_PROGRESS"
    assert scripted.servicer.calls[message.request_id] == 0


async def test_an_abandoned_claim_with_another_payload_is_not_taken_over(
    scripted: Scripted, db: psycopg.AsyncConnection
) -> None:
    message = request(amount=100)
    await _abandoned_claim(db, message, expired=True)
    error = await failure(scripted.stub.AuthorizePayment(request(request_id=message.request_id, amount=999)))
    assert errors.error_info(error).reason == "IDEMPOTENCY_KEY_REUSED"


async def test_keys_are_scoped_to_the_caller(scripted: Scripted) -> None:
    message = request()
    alice = await scripted.stub.AuthorizePayment(message, metadata=[("x-test-subject", "alice")])
    bob = await scripted.stub.AuthorizePayment(message, metadata=[("x-test-subject", "bob")])
    assert alice.payment.payment_id.startswith("alice:") and bob.payment.payment_id.startswith("bob:")
    assert scripted.servicer.calls[message.request_id] == 2


async def test_methods_without_side_effects_are_not_keyed(
    scripted: Scripted, db: psycopg.AsyncConnection
) -> None:
    first = await scripted.stub.GetPayment(api.GetPaymentRequest(payment_id="p"))
    second = await scripted.stub.GetPayment(api.GetPaymentRequest(payment_id="p"))
    assert (first.payment.payment_id, second.payment.payment_id) == ("1", "2")
    count = await (
        await db.execute("SELECT count(*) FROM idempotency_keys WHERE method LIKE '%%GetPayment'")
    ).fetchone()
    assert count == (0,)
