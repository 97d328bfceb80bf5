"""Every payment change is idempotent by request_id: replays, restarts, reuse, duplicates, crashes."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
from farebox.payment.v1 import payment_service_pb2 as api

from common import errors
from payment_service.domain import Money
from payment_service.payments import provider_key
from payment_service.providers.sandbox import TOKEN_CAPTURE_FAILS, SandboxProvider
from tests.integration.payment.harness import (
    RunningPayment,
    authorize_request,
    eur,
    expect_error,
    new_id,
    payment_settings,
    running,
)


async def test_replay_after_a_restart_gives_the_same_answer_without_calling_the_provider(
    payment_database: str,
) -> None:
    settings = payment_settings(payment_database)
    request = authorize_request()
    async with running(settings) as first:
        answer = await first.stub.AuthorizePayment(request)
        capture = api.CapturePaymentRequest(payment_id=answer.payment.payment_id, request_id=new_id())
        captured = await first.stub.CapturePayment(capture)
    async with running(settings) as second:
        assert await second.stub.AuthorizePayment(request) == answer
        assert await second.stub.CapturePayment(capture) == captured
        assert second.sandbox.calls == {}


async def test_a_stored_error_is_replayed_after_a_restart(payment_database: str) -> None:
    settings = payment_settings(payment_database)
    async with running(settings) as first:
        pid = (
            await first.stub.AuthorizePayment(authorize_request(token=TOKEN_CAPTURE_FAILS))
        ).payment.payment_id
        capture = api.CapturePaymentRequest(payment_id=pid, request_id=new_id())
        original = await expect_error(
            first.stub.CapturePayment(capture), grpc.StatusCode.FAILED_PRECONDITION, "CAPTURE_REFUSED"
        )
    async with running(settings) as second:
        replayed = await expect_error(
            second.stub.CapturePayment(capture), grpc.StatusCode.FAILED_PRECONDITION, "CAPTURE_REFUSED"
        )
        assert replayed.details() == original.details()
        assert second.sandbox.calls == {}


async def test_the_same_key_with_other_parameters_is_refused(payment: RunningPayment) -> None:
    request = authorize_request(10_000)
    await payment.stub.AuthorizePayment(request)
    other = api.AuthorizePaymentRequest()
    other.CopyFrom(request)
    other.amount.amount_minor = 20_000
    error = await expect_error(
        payment.stub.AuthorizePayment(other), grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED"
    )
    assert [violation.field for violation in errors.bad_request(error).field_violations] == ["request_id"]
    assert payment.sandbox.calls["authorize"] == 1


async def test_fifty_concurrent_identical_authorizations_charge_once(
    payment: RunningPayment, db: psycopg.AsyncConnection
) -> None:
    request = authorize_request(7_500)
    outcomes = await asyncio.gather(
        *(payment.stub.AuthorizePayment(request) for _ in range(50)), return_exceptions=True
    )
    answers = [outcome for outcome in outcomes if isinstance(outcome, api.AuthorizePaymentResponse)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
    assert len(answers) + len(refusals) == 50
    assert all(
        error.code() == grpc.StatusCode.ABORTED and errors.error_info(error).reason == "REQUEST_IN_PROGRESS"
        for error in refusals
    )
    final = await payment.stub.AuthorizePayment(request)
    assert all(answer == final for answer in answers)
    assert (payment.sandbox.calls["authorize"], payment.sandbox.charges) == (1, 1)
    rows = await (
        await db.execute(
            "SELECT count(*), sum(authorized_minor) FROM payments WHERE authorization_request_id = %s",
            (request.request_id,),
        )
    ).fetchone()
    assert rows == (1, 7_500)


async def test_an_authorization_recorded_before_a_crash_is_not_charged_again(
    payment: RunningPayment, db: psycopg.AsyncConnection
) -> None:
    request = authorize_request()
    answer = await payment.stub.AuthorizePayment(request)
    await _forget_answer(db, request.request_id)  # as if the process died before storing the answer
    assert await payment.stub.AuthorizePayment(request) == answer
    assert payment.sandbox.calls["authorize"] == 1


async def test_a_capture_done_at_the_provider_before_a_crash_is_recorded_once(
    payment: RunningPayment, db: psycopg.AsyncConnection
) -> None:
    pid = (await payment.stub.AuthorizePayment(authorize_request(10_000))).payment.payment_id
    reference = await db.execute("SELECT provider_reference FROM payments WHERE payment_id = %s", (pid,))
    authorization = (await reference.fetchone())[0]
    request_id = new_id()
    # The first attempt reached the provider, then the process died before the ledger commit.
    await payment.sandbox.capture(
        authorization, Money(10_000, "EUR"), provider_key("capture", pid, request_id)
    )
    captured = await payment.stub.CapturePayment(
        api.CapturePaymentRequest(payment_id=pid, request_id=request_id)
    )
    assert captured.payment.captured_amount == eur(10_000)
    assert payment.sandbox.authorization(authorization).captured_minor == 10_000
    await _forget_answer(db, request_id)  # and once more after the ledger commit
    again = await payment.stub.CapturePayment(
        api.CapturePaymentRequest(payment_id=pid, request_id=request_id)
    )
    assert again.payment == captured.payment
    assert payment.sandbox.calls["capture"] == 2


async def test_a_restarted_sandbox_lets_earlier_authorizations_finish(payment_database: str) -> None:
    settings = payment_settings(payment_database)
    async with running(settings) as first:
        pid = (await first.stub.AuthorizePayment(authorize_request(10_000))).payment.payment_id
    async with running(settings, SandboxProvider(settings.sandbox)) as second:
        captured = await second.stub.CapturePayment(
            api.CapturePaymentRequest(payment_id=pid, request_id=new_id())
        )
        refund = api.RefundPaymentRequest(payment_id=pid, amount=eur(2_500), request_id=new_id())
        refunded = await second.stub.RefundPayment(refund)
    assert captured.payment.captured_amount == eur(10_000)
    assert refunded.payment.refunded_amount == eur(2_500)


async def _forget_answer(db: psycopg.AsyncConnection, request_id: str) -> None:
    """Turns a stored answer back into an abandoned claim whose lease has run out."""
    await db.execute(
        """
        UPDATE idempotency_keys
        SET status = 'IN_PROGRESS', owner = gen_random_uuid(), lease_expires_at = now() - interval '1 second',
            response = NULL, error_status = NULL, completed_at = NULL
        WHERE request_id = %s
        """,
        (request_id,),
    )
