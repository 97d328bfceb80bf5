"""Every legal state transition of a payment, and every illegal one with its code and reason."""

from __future__ import annotations

import grpc
import psycopg
import pytest
from farebox.payment.v1 import payment_pb2 as model
from farebox.payment.v1 import payment_service_pb2 as api

from common import errors
from payment_service.providers.sandbox import (
    TOKEN_CAPTURE_FAILS,
    TOKEN_FRAUD,
    TOKEN_INSUFFICIENT_FUNDS,
    TOKEN_PROCESSING_ERROR,
)
from tests.integration.payment.harness import (
    RunningPayment,
    authorize_request,
    eur,
    expect_error,
    new_id,
    rpc_error,
)

S = model.PaymentStatus
E = model.PaymentEventType


async def payment_in(service: RunningPayment, status: str) -> model.Payment:
    """A payment of 100.00 EUR brought to `status` through the API."""
    stub = service.stub
    if status == "DECLINED":
        response = await stub.AuthorizePayment(authorize_request(token=TOKEN_INSUFFICIENT_FUNDS))
        return response.payment
    payment = (await stub.AuthorizePayment(authorize_request(10_000))).payment
    if status == "VOIDED":
        payment = (
            await stub.VoidPayment(api.VoidPaymentRequest(payment_id=payment.payment_id, request_id=new_id()))
        ).payment
    if status in {"CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"}:
        capture = api.CapturePaymentRequest(payment_id=payment.payment_id, request_id=new_id())
        payment = (await stub.CapturePayment(capture)).payment
    if status in {"PARTIALLY_REFUNDED", "REFUNDED"}:
        amount = eur(4_000) if status == "PARTIALLY_REFUNDED" else None
        refund = api.RefundPaymentRequest(payment_id=payment.payment_id, amount=amount, request_id=new_id())
        payment = (await stub.RefundPayment(refund)).payment
    assert S.Name(payment.status) == f"PAYMENT_STATUS_{status}"
    return payment


async def change(service: RunningPayment, operation: str, payment_id: str) -> model.Payment:
    stub = service.stub
    if operation == "capture":
        request = api.CapturePaymentRequest(payment_id=payment_id, request_id=new_id())
        return (await stub.CapturePayment(request)).payment
    if operation == "void":
        return (
            await stub.VoidPayment(api.VoidPaymentRequest(payment_id=payment_id, request_id=new_id()))
        ).payment
    request = api.RefundPaymentRequest(
        payment_id=payment_id, request_id=new_id(), reason="traveller cancelled"
    )
    return (await stub.RefundPayment(request)).payment


# (status before, operation) -> status after, or the FAILED_PRECONDITION reason.
TABLE = {
    ("AUTHORIZED", "capture"): S.PAYMENT_STATUS_CAPTURED,
    ("AUTHORIZED", "void"): S.PAYMENT_STATUS_VOIDED,
    ("AUTHORIZED", "refund"): "PAYMENT_NOT_CAPTURED",
    ("DECLINED", "capture"): "PAYMENT_DECLINED",
    ("DECLINED", "void"): "PAYMENT_DECLINED",
    ("DECLINED", "refund"): "PAYMENT_DECLINED",
    ("VOIDED", "capture"): "PAYMENT_VOIDED",
    ("VOIDED", "void"): "PAYMENT_VOIDED",
    ("VOIDED", "refund"): "PAYMENT_VOIDED",
    ("CAPTURED", "capture"): "PAYMENT_ALREADY_CAPTURED",
    ("CAPTURED", "void"): "PAYMENT_ALREADY_CAPTURED",
    ("CAPTURED", "refund"): S.PAYMENT_STATUS_REFUNDED,
    ("PARTIALLY_REFUNDED", "capture"): "PAYMENT_ALREADY_CAPTURED",
    ("PARTIALLY_REFUNDED", "void"): "PAYMENT_ALREADY_CAPTURED",
    ("PARTIALLY_REFUNDED", "refund"): S.PAYMENT_STATUS_REFUNDED,
    ("REFUNDED", "capture"): "PAYMENT_ALREADY_CAPTURED",
    ("REFUNDED", "void"): "PAYMENT_ALREADY_CAPTURED",
    ("REFUNDED", "refund"): "PAYMENT_FULLY_REFUNDED",
}


@pytest.mark.parametrize(("status", "operation"), sorted(TABLE))
async def test_transition(payment: RunningPayment, status: str, operation: str) -> None:
    before = await payment_in(payment, status)
    expected = TABLE[(status, operation)]
    if isinstance(expected, str):
        await expect_error(
            change(payment, operation, before.payment_id), grpc.StatusCode.FAILED_PRECONDITION, expected
        )
        after = (await payment.stub.GetPayment(api.GetPaymentRequest(payment_id=before.payment_id))).payment
        assert after == before
        return
    after = await change(payment, operation, before.payment_id)
    assert after.status == expected
    assert len(after.events) == len(before.events) + 1
    assert after.refunded_amount.amount_minor <= after.captured_amount.amount_minor
    assert after.captured_amount.amount_minor <= after.authorized_amount.amount_minor


async def test_authorize_then_partial_capture_then_refunds_keep_the_ledger(payment: RunningPayment) -> None:
    stub = payment.stub
    authorized = (await stub.AuthorizePayment(authorize_request(10_000))).payment
    assert (authorized.status, authorized.authorized_amount.amount_minor) == (
        S.PAYMENT_STATUS_AUTHORIZED,
        10_000,
    )
    pid = authorized.payment_id
    captured = (
        await stub.CapturePayment(
            api.CapturePaymentRequest(payment_id=pid, amount=eur(6_000), request_id=new_id())
        )
    ).payment
    assert (captured.status, captured.captured_amount.amount_minor) == (S.PAYMENT_STATUS_CAPTURED, 6_000)
    partly = (
        await stub.RefundPayment(
            api.RefundPaymentRequest(payment_id=pid, amount=eur(1_000), request_id=new_id())
        )
    ).payment
    assert (partly.status, partly.refunded_amount.amount_minor) == (
        S.PAYMENT_STATUS_PARTIALLY_REFUNDED,
        1_000,
    )
    rest = (await stub.RefundPayment(api.RefundPaymentRequest(payment_id=pid, request_id=new_id()))).payment
    assert (rest.status, rest.refunded_amount.amount_minor) == (S.PAYMENT_STATUS_REFUNDED, 6_000)
    assert [(event.type, event.amount.amount_minor) for event in rest.events] == [
        (E.PAYMENT_EVENT_TYPE_AUTHORIZED, 10_000),
        (E.PAYMENT_EVENT_TYPE_CAPTURED, 6_000),
        (E.PAYMENT_EVENT_TYPE_REFUNDED, 1_000),
        (E.PAYMENT_EVENT_TYPE_REFUNDED, 5_000),
    ]
    assert all(event.provider_reference.startswith("sbx_") for event in rest.events)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (TOKEN_INSUFFICIENT_FUNDS, model.DECLINE_REASON_INSUFFICIENT_FUNDS),
        (TOKEN_FRAUD, model.DECLINE_REASON_SUSPECTED_FRAUD),
        ("tok_unknown", model.DECLINE_REASON_INVALID_TOKEN),
    ],
)
async def test_declines_are_recorded_with_their_reason(
    payment: RunningPayment, token: str, reason: int
) -> None:
    declined = (await payment.stub.AuthorizePayment(authorize_request(token=token))).payment
    assert (declined.status, declined.decline_reason) == (S.PAYMENT_STATUS_DECLINED, reason)
    assert declined.authorized_amount.amount_minor == 0
    assert [event.type for event in declined.events] == [E.PAYMENT_EVENT_TYPE_DECLINED]


async def test_over_capture_and_over_refund_are_refused(payment: RunningPayment) -> None:
    stub = payment.stub
    pid = (await stub.AuthorizePayment(authorize_request(5_000))).payment.payment_id
    await expect_error(
        stub.CapturePayment(
            api.CapturePaymentRequest(payment_id=pid, amount=eur(5_001), request_id=new_id())
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AMOUNT_EXCEEDS_AUTHORIZED",
    )
    await stub.CapturePayment(
        api.CapturePaymentRequest(payment_id=pid, amount=eur(3_000), request_id=new_id())
    )
    await expect_error(
        stub.RefundPayment(api.RefundPaymentRequest(payment_id=pid, amount=eur(3_001), request_id=new_id())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REFUND_EXCEEDS_CAPTURE",
    )


async def test_bad_input_names_the_field(payment: RunningPayment) -> None:
    stub = payment.stub
    cases = [
        (
            api.AuthorizePaymentRequest(amount=eur(100), payment_token="tok_success", request_id=new_id()),
            ["booking_reference"],
        ),
        (
            api.AuthorizePaymentRequest(
                booking_reference="b", payment_token="tok_success", request_id=new_id()
            ),
            ["amount"],
        ),
        (authorize_request(0), ["amount.amount_minor"]),
        (
            api.AuthorizePaymentRequest(booking_reference="b", amount=eur(100), payment_token="tok_success"),
            ["request_id"],
        ),
    ]
    bad_currency = authorize_request(100)
    bad_currency.amount.currency_code = "euro"
    cases.append((bad_currency, ["amount.currency_code"]))
    for request, fields in cases:
        error = await expect_error(
            stub.AuthorizePayment(request), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"
        )
        assert [violation.field for violation in errors.bad_request(error).field_violations] == fields
    pid = (await stub.AuthorizePayment(authorize_request(100))).payment.payment_id
    wrong = api.CapturePaymentRequest(payment_id=pid, request_id=new_id())
    wrong.amount.CopyFrom(eur(50))
    wrong.amount.currency_code = "USD"
    error = await expect_error(
        stub.CapturePayment(wrong), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )
    assert [violation.field for violation in errors.bad_request(error).field_violations] == [
        "amount.currency_code"
    ]


async def test_unknown_payments_are_not_found(payment: RunningPayment) -> None:
    await expect_error(
        payment.stub.CapturePayment(api.CapturePaymentRequest(payment_id="pay_missing", request_id=new_id())),
        grpc.StatusCode.NOT_FOUND,
        "NOT_FOUND",
    )
    await expect_error(
        payment.stub.GetPayment(api.GetPaymentRequest(authorization_request_id=new_id())),
        grpc.StatusCode.NOT_FOUND,
        "NOT_FOUND",
    )
    error = await rpc_error(payment.stub.GetPayment(api.GetPaymentRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_get_payment_by_id_or_by_authorization_key(payment: RunningPayment) -> None:
    request = authorize_request()
    authorized = (await payment.stub.AuthorizePayment(request)).payment
    by_id = await payment.stub.GetPayment(api.GetPaymentRequest(payment_id=authorized.payment_id))
    by_key = await payment.stub.GetPayment(api.GetPaymentRequest(authorization_request_id=request.request_id))
    assert by_id.payment == by_key.payment == authorized


async def test_a_capture_the_issuer_refuses_leaves_the_authorization_to_void(payment: RunningPayment) -> None:
    stub = payment.stub
    pid = (await stub.AuthorizePayment(authorize_request(token=TOKEN_CAPTURE_FAILS))).payment.payment_id
    await expect_error(
        stub.CapturePayment(api.CapturePaymentRequest(payment_id=pid, request_id=new_id())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CAPTURE_REFUSED",
    )
    voided = (await stub.VoidPayment(api.VoidPaymentRequest(payment_id=pid, request_id=new_id()))).payment
    assert voided.status == S.PAYMENT_STATUS_VOIDED


async def test_a_transient_provider_error_is_retryable_and_not_stored(
    payment: RunningPayment, db: psycopg.AsyncConnection
) -> None:
    request = authorize_request(token=TOKEN_PROCESSING_ERROR)
    for attempt in (1, 2):
        await expect_error(
            payment.stub.AuthorizePayment(request), grpc.StatusCode.UNAVAILABLE, "PROVIDER_PROCESSING_ERROR"
        )
        assert payment.sandbox.calls["authorize"] == attempt
    stored = await (
        await db.execute("SELECT count(*) FROM idempotency_keys WHERE request_id = %s", (request.request_id,))
    ).fetchone()
    rows = await (
        await db.execute(
            "SELECT count(*) FROM payments WHERE authorization_request_id = %s", (request.request_id,)
        )
    ).fetchone()
    assert (stored, rows) == ((0,), (0,))
