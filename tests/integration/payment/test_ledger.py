"""The ledger's guarantees: concurrent refunds never exceed the capture; constraints and append-only."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
import pytest
from farebox.payment.v1 import payment_pb2 as model
from farebox.payment.v1 import payment_service_pb2 as api

from common import errors
from tests.integration.payment.harness import RunningPayment, authorize_request, eur, new_id


async def captured_payment(service: RunningPayment, amount_minor: int) -> str:
    pid = (await service.stub.AuthorizePayment(authorize_request(amount_minor))).payment.payment_id
    await service.stub.CapturePayment(api.CapturePaymentRequest(payment_id=pid, request_id=new_id()))
    return pid


async def test_concurrent_partial_refunds_never_exceed_the_capture(
    payment: RunningPayment, db: psycopg.AsyncConnection
) -> None:
    pid = await captured_payment(payment, 10_000)
    refunds = [
        api.RefundPaymentRequest(payment_id=pid, amount=eur(700), request_id=new_id(), reason="partial")
        for _ in range(30)
    ]
    outcomes = await asyncio.gather(
        *(payment.stub.RefundPayment(refund) for refund in refunds), return_exceptions=True
    )
    succeeded = [outcome for outcome in outcomes if isinstance(outcome, api.RefundPaymentResponse)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
    assert (len(succeeded), len(refused)) == (14, 16)  # 14 x 700 = 9,800 of 10,000
    assert {(error.code(), errors.error_info(error).reason) for error in refused} == {
        (grpc.StatusCode.FAILED_PRECONDITION, "REFUND_EXCEEDS_CAPTURE")
    }
    # Audit: the row, the sum of the ledger's refund entries and the provider all agree.
    row = await (
        await db.execute(
            """
            SELECT p.captured_minor, p.refunded_minor, p.status, p.provider_reference,
                   (SELECT sum(amount_minor) FROM payment_events e WHERE e.payment_id = p.payment_id
                      AND e.type = 'REFUNDED') AS ledger_refunded,
                   (SELECT count(*) FROM payment_events e WHERE e.payment_id = p.payment_id
                      AND e.type = 'REFUNDED') AS refunds
            FROM payments p WHERE p.payment_id = %s
            """,
            (pid,),
        )
    ).fetchone()
    captured, refunded, status, reference, ledger_refunded, count = row
    assert (captured, refunded, ledger_refunded, count, status) == (
        10_000,
        9_800,
        9_800,
        14,
        "PARTIALLY_REFUNDED",
    )
    assert payment.sandbox.authorization(reference).refunded_minor == 9_800
    final = (
        await payment.stub.RefundPayment(api.RefundPaymentRequest(payment_id=pid, request_id=new_id()))
    ).payment
    assert (final.status, final.refunded_amount.amount_minor) == (model.PAYMENT_STATUS_REFUNDED, 10_000)


async def test_concurrent_capture_and_void_of_one_payment_apply_exactly_one(payment: RunningPayment) -> None:
    pid = (await payment.stub.AuthorizePayment(authorize_request(5_000))).payment.payment_id
    outcomes = await asyncio.gather(
        payment.stub.CapturePayment(api.CapturePaymentRequest(payment_id=pid, request_id=new_id())),
        payment.stub.VoidPayment(api.VoidPaymentRequest(payment_id=pid, request_id=new_id())),
        return_exceptions=True,
    )
    assert sum(isinstance(outcome, grpc.aio.AioRpcError) for outcome in outcomes) == 1
    final = (await payment.stub.GetPayment(api.GetPaymentRequest(payment_id=pid))).payment
    assert final.status in {model.PAYMENT_STATUS_CAPTURED, model.PAYMENT_STATUS_VOIDED}
    assert len(final.events) == 2


@pytest.mark.parametrize(
    "assignment",
    [
        "refunded_minor = captured_minor + 1",
        "captured_minor = authorized_minor + 1",
        "captured_minor = -1",
        "status = 'AUTHORIZED'",
        "status = 'REFUNDED'",
        "status = 'DECLINED'",
    ],
)
async def test_impossible_states_are_unrepresentable(
    payment: RunningPayment, db: psycopg.AsyncConnection, assignment: str
) -> None:
    pid = await captured_payment(payment, 3_000)
    with pytest.raises(psycopg.errors.CheckViolation):
        await db.execute(f"UPDATE payments SET {assignment} WHERE payment_id = %s", (pid,))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payment_events SET amount_minor = 1 WHERE payment_id = %s",
        "DELETE FROM payment_events WHERE payment_id = %s",
    ],
)
async def test_the_event_table_is_append_only(
    payment: RunningPayment, db: psycopg.AsyncConnection, statement: str
) -> None:
    pid = await captured_payment(payment, 3_000)
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        await db.execute(statement, (pid,))
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        await db.execute("TRUNCATE payment_events CASCADE")
    count = await (
        await db.execute("SELECT count(*) FROM payment_events WHERE payment_id = %s", (pid,))
    ).fetchone()
    assert count == (2,)
