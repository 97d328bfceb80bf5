"""A small in-process server for the security tests: Health, a tiny seat servicer, one undeclared method.

The servicer answers with empty responses and echoes the principal it saw in trailing metadata
(`x-subject`, `x-roles`, `x-tenant`), so a test can tell who the server believed was calling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as seat_pb2
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as seat_grpc

from common.interceptors.auth import AuthInterceptor
from common.interceptors.chain import standard_interceptors
from common.interceptors.rate_limit import RateLimitInterceptor
from common.jwt_auth import JwtVerifier
from common.rate_limit import RateLimiter
from common.request_context import current_principal
from common.server import ServiceHost
from tests.integration.security.pki import ClientFiles

SEAT_SERVICE = seat_pb2.DESCRIPTOR.services_by_name["SeatInventoryService"].full_name
UNDECLARED = "/farebox.test.v1.Probe/Undeclared"
CALL_TIMEOUT = 10.0
# Each test channel gets its own connections, so a new channel always means a new handshake.
LOCAL_POOL = [("grpc.use_local_subchannel_pool", 1)]


def _echo(context: grpc.aio.ServicerContext) -> None:
    principal = current_principal()
    roles = ",".join(str(role) for role in sorted(principal.roles))
    context.set_trailing_metadata(
        (("x-subject", principal.subject), ("x-roles", roles), ("x-tenant", principal.tenant))
    )


class ProbeSeatServicer(seat_grpc.SeatInventoryServiceServicer):
    """Four seat methods with different policies: anonymous read, operator write, internal write, stream."""

    async def GetSeatMap(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        _echo(context)
        return seat_pb2.GetSeatMapResponse()

    async def CreateTrip(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        _echo(context)
        return seat_pb2.CreateTripResponse()

    async def HoldSeats(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        _echo(context)
        return seat_pb2.HoldSeatsResponse()

    async def WatchSeatMap(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        _echo(context)
        yield seat_pb2.WatchSeatMapResponse()


async def _undeclared(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b""


@asynccontextmanager
async def probe_server(
    *,
    verifier: JwtVerifier | None = None,
    limiter: RateLimiter | None = None,
    service_identities: frozenset[str] = frozenset({"booking"}),
    trusted_proxies: frozenset[str] = frozenset({"gateway"}),
    credentials: grpc.ServerCredentials | None = None,
    chain: Sequence[grpc.aio.ServerInterceptor] | None = None,
) -> AsyncIterator[ServiceHost]:
    """A started server on 127.0.0.1:<free port>, behind the standard chain plus auth and rate limits."""
    if chain is None:
        security: list[grpc.aio.ServerInterceptor] = [AuthInterceptor(verifier, service_identities)]
        if limiter is not None:
            security.append(RateLimitInterceptor(limiter, trusted_proxies))
        chain = standard_interceptors(*security)
    host = ServiceHost.create([SEAT_SERVICE], interceptors=chain)
    seat_grpc.add_SeatInventoryServiceServicer_to_server(ProbeSeatServicer(), host.server)
    handler = grpc.unary_unary_rpc_method_handler(_undeclared)
    host.server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("farebox.test.v1.Probe", {"Undeclared": handler}),)
    )
    await host.start("127.0.0.1:0", credentials)
    try:
        yield host
    finally:
        await host.stop(timedelta(0))


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """The call metadata carrying `token`, or none."""
    return () if token is None else (("authorization", f"Bearer {token}"),)


async def call(
    channel: grpc.aio.Channel,
    method: str,
    token: str | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> dict[str, str]:
    """Calls a probe seat method with an empty request; returns the trailing metadata the server echoed."""
    stub = seat_grpc.SeatInventoryServiceStub(channel)
    request_type = getattr(seat_pb2, f"{method}Request")
    rpc = getattr(stub, method)(request_type(), metadata=bearer(token) + metadata, timeout=CALL_TIMEOUT)
    if method == "WatchSeatMap":
        async for _ in rpc:
            pass
    else:
        await rpc
    return {key: str(value) for key, value in await rpc.trailing_metadata() or ()}


@asynccontextmanager
async def secure_channel(port: int, files: ClientFiles) -> AsyncIterator[grpc.aio.Channel]:
    """A TLS channel to 127.0.0.1:`port` trusting `files.ca` and presenting its certificate, if any."""
    credentials = grpc.ssl_channel_credentials(files.ca, files.key, files.cert)
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=LOCAL_POOL) as channel:
        yield channel
