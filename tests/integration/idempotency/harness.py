"""A scripted PaymentService behind the standard chain and the idempotency interceptor.

The servicer's behaviour is chosen by the request's `payment_token`; its answers carry a call number,
so a replay (same number) is told apart from a second execution (a new number).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from farebox.payment.v1 import payment_pb2
from farebox.payment.v1 import payment_service_pb2 as api
from farebox.payment.v1 import payment_service_pb2_grpc as api_grpc
from grpc_interceptor import AsyncServerInterceptor

from common import errors
from common.idempotency import IdempotencySettings, IdempotencyStore, active_key
from common.interceptors.chain import standard_interceptors
from common.interceptors.handler import call_handler
from common.interceptors.idempotency import IdempotencyInterceptor
from common.request_context import Principal, principal_var
from common.server import ServiceHost

SERVICE = "farebox.payment.v1.PaymentService"
AUTHORIZE = f"/{SERVICE}/AuthorizePayment"


class ScriptedPayments(api_grpc.PaymentServiceServicer):
    """Answers, fails or blocks as each request's payment_token says."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def AuthorizePayment(self, request: api.AuthorizePaymentRequest, context: Any) -> Any:
        key = active_key()
        self.calls[key.request_id] += 1
        number = self.calls[key.request_id]
        script = request.payment_token
        if script == "unavailable":
            raise errors.Unavailable("downstream is down", reason="DOWNSTREAM_DOWN")
        if script == "crash":
            raise RuntimeError("unexpected")
        if script == "refuse":
            raise errors.FailedPrecondition(
                f"refused on call {number}", reason="SOLD_OUT", metadata={"call": str(number)}
            )
        if script == "gate":
            self.entered.set()
            await self.gate.wait()
        payment = payment_pb2.Payment(payment_id=f"{key.scope}:{key.request_id}:{number}")
        return api.AuthorizePaymentResponse(payment=payment)

    async def GetPayment(self, request: api.GetPaymentRequest, context: Any) -> Any:
        self.calls["get"] += 1
        return api.GetPaymentResponse(payment=payment_pb2.Payment(payment_id=str(self.calls["get"])))


class SubjectFromMetadata(AsyncServerInterceptor):  # type: ignore[misc]
    """Stands in for authentication: the caller's subject comes from `x-test-subject`."""

    async def intercept(self, method: Any, request: Any, context: Any, method_name: str) -> Any:
        subject = dict(context.invocation_metadata() or ()).get("x-test-subject", "")
        principal_var.set(Principal(subject=subject))
        return await call_handler(method, request, context)


@dataclass
class Scripted:
    """A running scripted server and what the tests look at."""

    stub: api_grpc.PaymentServiceStub
    servicer: ScriptedPayments
    replays: list[str] = field(default_factory=list)


@asynccontextmanager
async def scripted_server(store: IdempotencyStore, settings: IdempotencySettings) -> AsyncIterator[Scripted]:
    """Starts the scripted server on port 0 and stops it on leaving."""
    replays: list[str] = []
    interceptor = IdempotencyInterceptor(store, settings, on_replay=replays.append)
    host = ServiceHost.create(
        [SERVICE], interceptors=standard_interceptors(SubjectFromMetadata(), interceptor)
    )
    servicer = ScriptedPayments()
    api_grpc.add_PaymentServiceServicer_to_server(servicer, host.server)
    port = await host.start("127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Scripted(api_grpc.PaymentServiceStub(channel), servicer, replays)
    finally:
        servicer.gate.set()
        await host.stop(timedelta(seconds=1))
