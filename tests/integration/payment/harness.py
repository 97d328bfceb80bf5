"""A payment service built in-process on the session database, with its sandbox in reach."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from farebox.common.v1.money_pb2 import Money
from farebox.payment.v1 import payment_service_pb2 as api
from farebox.payment.v1.payment_service_pb2_grpc import PaymentServiceStub

from common import errors
from common.server import ServiceHost
from common.settings import Env
from payment_service.providers.sandbox import TOKEN_SUCCESS, SandboxProvider
from payment_service.server import build_server
from payment_service.settings import PaymentSettings
from tests.support.auth import stand_in_auth


def payment_settings(database_url: str, **overrides: str) -> PaymentSettings:
    """Settings for a test server: plaintext, port 0, the session database, and any PAYMENT_* overrides."""
    return PaymentSettings.from_env(
        Env({"DATABASE_URL": database_url, "PAYMENT_PORT": "0", "FAREBOX_INSECURE_DEV": "true", **overrides})
    )


@dataclass
class RunningPayment:
    """A started payment server, a stub on it, and the sandbox it charges."""

    host: ServiceHost
    stub: PaymentServiceStub
    sandbox: SandboxProvider


@asynccontextmanager
async def running(
    settings: PaymentSettings, sandbox: SandboxProvider | None = None
) -> AsyncIterator[RunningPayment]:
    """Builds and starts a server, callers named by `tests.support.auth`; stops it (and closes its
    pools) on leaving."""
    sandbox = sandbox or SandboxProvider(settings.sandbox)
    host = await build_server(settings, sandbox, auth_interceptors=stand_in_auth())
    port = await host.start("127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield RunningPayment(host, PaymentServiceStub(channel), sandbox)
    finally:
        await host.stop(timedelta(seconds=1))


def new_id(prefix: str = "req") -> str:
    """A request_id or booking reference no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex}"


def eur(amount_minor: int) -> Money:
    """An amount in euro cents."""
    return Money(amount_minor=amount_minor, currency_code="EUR")


def authorize_request(
    amount_minor: int = 10_000, token: str = TOKEN_SUCCESS, request_id: str | None = None, booking: str = ""
) -> api.AuthorizePaymentRequest:
    """An AuthorizePaymentRequest with fresh ids unless given."""
    return api.AuthorizePaymentRequest(
        booking_reference=booking or new_id("bk"),
        amount=eur(amount_minor),
        payment_token=token,
        request_id=request_id or new_id(),
    )


async def rpc_error(call: object) -> grpc.aio.AioRpcError:
    """The error an awaited call fails with."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def expect_error(call: object, code: grpc.StatusCode, reason: str) -> grpc.aio.AioRpcError:
    """Asserts the call fails with `code` and ErrorInfo `reason`; returns the error."""
    error = await rpc_error(call)
    info = errors.error_info(error)
    assert (error.code(), info.reason if info else None) == (code, reason), error.details()
    return error
