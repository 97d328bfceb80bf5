"""A failing or slow provider: the breaker opens, fails fast, closes again; deadlines bound every call."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
from farebox.payment.v1 import payment_pb2 as model

from payment_service.providers.sandbox import TOKEN_SLOW, Faults
from tests.integration.payment.harness import (
    authorize_request,
    expect_error,
    payment_settings,
    rpc_error,
    running,
)


async def test_breaker_opens_on_a_failing_provider_and_closes_after_it_recovers(
    payment_database: str,
) -> None:
    settings = payment_settings(
        payment_database, PAYMENT_BREAKER_FAIL_MAX="3", PAYMENT_BREAKER_RESET_TIMEOUT="300ms"
    )
    async with running(settings) as service:
        service.sandbox.faults = Faults(error_rate=1.0)
        for _ in range(2):
            await expect_error(
                service.stub.AuthorizePayment(authorize_request()),
                grpc.StatusCode.UNAVAILABLE,
                "PROVIDER_PROCESSING_ERROR",
            )
        # The third failure trips the breaker; from then on calls fail fast without reaching the provider.
        for _ in range(3):
            await expect_error(
                service.stub.AuthorizePayment(authorize_request()),
                grpc.StatusCode.UNAVAILABLE,
                "PROVIDER_UNAVAILABLE",
            )
        assert service.sandbox.calls["authorize"] == 3

        service.sandbox.faults = Faults()
        await asyncio.sleep(0.6)  # past the reset timeout: the next call is the half-open trial
        recovered = (await service.stub.AuthorizePayment(authorize_request())).payment
        assert recovered.status == model.PAYMENT_STATUS_AUTHORIZED

        # Closed again: one new failure is the provider's own error, not an open breaker.
        service.sandbox.faults = Faults(error_rate=1.0)
        await expect_error(
            service.stub.AuthorizePayment(authorize_request()),
            grpc.StatusCode.UNAVAILABLE,
            "PROVIDER_PROCESSING_ERROR",
        )


async def test_a_slow_provider_is_cut_off_by_the_provider_timeout(
    payment_database: str,
) -> None:
    settings = payment_settings(
        payment_database, PAYMENT_SANDBOX_SLOW_DELAY="60s", PAYMENT_PROVIDER_TIMEOUT="200ms"
    )
    async with running(settings) as service:
        request = authorize_request(token=TOKEN_SLOW)
        await expect_error(
            service.stub.AuthorizePayment(request, timeout=30),
            grpc.StatusCode.UNAVAILABLE,
            "PROVIDER_TIMEOUT",
        )
        assert service.sandbox.charges == 0


async def test_a_slow_provider_never_outlives_the_callers_deadline(payment_database: str) -> None:
    settings = payment_settings(payment_database, PAYMENT_SANDBOX_SLOW_DELAY="60s")
    async with running(settings) as service:
        request = authorize_request(token=TOKEN_SLOW)
        error = await rpc_error(service.stub.AuthorizePayment(request, timeout=1.0))
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The server gave up too: the key is released for a retry, and nothing was charged.
        async with await psycopg.AsyncConnection.connect(payment_database, autocommit=True) as db:
            for _ in range(100):
                row = await (
                    await db.execute(
                        "SELECT count(*) FROM idempotency_keys WHERE request_id = %s", (request.request_id,)
                    )
                ).fetchone()
                if row == (0,):
                    break
                await asyncio.sleep(0.05)
        assert row == (0,)
        assert service.sandbox.charges == 0
