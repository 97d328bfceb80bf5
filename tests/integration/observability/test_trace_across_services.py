"""One booking, one trace: a W3C traceparent sent to the gateway over HTTP reaches every hop.

The gateway, seat, payment and booking services run in this process as in production (TLS, bearer
tokens, mTLS between services; see tests/integration/gateway/test_booking_with_real_services.py),
traced by the session's tracing: every trace kept, spans in memory. The booking is reserved and
confirmed over HTTP with the caller's traceparent; every gRPC span those two requests caused
(booking -> seat, booking -> payment) carries the caller's trace id.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from google.protobuf import json_format
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from booking_service.server import build_server as build_booking
from booking_service.settings import BookingSettings
from common.jwt_auth import JwtVerifier
from common.platform import Platform, PlatformSettings
from common.server import ServiceHost
from common.settings import Env
from common.tracing import Tracing
from gateway.server import build_server as build_gateway
from gateway.settings import GatewaySettings
from payment_service.server import build_server as build_payment
from payment_service.settings import PaymentSettings
from seat_service.server import build_server as build_seat
from seat_service.settings import SeatSettings
from tests.integration.gateway.test_booking_with_real_services import bearer
from tests.integration.seat.support import trip_message
from tests.support.databases import fresh_database, migrate_all
from tests.support.platform import DevCredentials
from tests.unit.booking.harness import TICKET_KEY
from tests.unit.gateway.protoc import farebox_descriptor_set

BOOKING = "/farebox.booking.v1.BookingService"
SEAT = "/farebox.seat.v1.SeatInventoryService"
PAYMENT = "/farebox.payment.v1.PaymentService"
# The server spans one booking's reserve and confirm must leave, each under the caller's trace.
BOOKING_SERVER_SPANS = {
    f"{BOOKING}/ReserveSeats",
    f"{BOOKING}/ConfirmBooking",
    f"{SEAT}/HoldSeats",
    f"{SEAT}/CommitHold",
    f"{PAYMENT}/AuthorizePayment",
    f"{PAYMENT}/CapturePayment",
}


@pytest.fixture(scope="module")
def services_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database with every migration applied, for this module."""
    with fresh_database(postgres_server_url) as database_url:
        migrate_all(database_url)
        yield database_url


def traced_platform(settings: PlatformSettings, tracing: Tracing) -> Platform:
    """What `Platform.configure` builds, with the session's tracing instead of one from settings."""
    return Platform(
        settings=settings, tracing=tracing, verifier=JwtVerifier.from_settings(settings.security.jwt)
    )


@pytest.fixture
async def gateway(
    services_database: str,
    redis_url: str,
    dev_credentials: DevCredentials,
    tracing: Tracing,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """Seat, payment and booking traced on free ports, and the gateway in front of them; its base URL."""

    def environment(name: str, prefix: str, **extra: str) -> Env:
        return Env(
            {
                **dev_credentials.service_env(name),
                "DATABASE_URL": services_database,
                "REDIS_URL": redis_url,
                f"{prefix}_PORT": "0",
                f"{prefix}_INTERNAL_PORT": "0",
                **extra,
            }
        )

    hosts: list[ServiceHost] = []

    async def start(
        settings: SeatSettings | PaymentSettings | BookingSettings,
        build: Callable[..., Awaitable[ServiceHost]],
    ) -> ServiceHost:
        platform = traced_platform(settings.platform, tracing)
        host = await build(settings, platform=platform)
        hosts.append(host)
        await platform.start(host, settings.server)
        return host

    gateway_host = None
    try:
        seat = await start(SeatSettings.from_env(environment("seat", "SEAT")), build_seat)
        payment = await start(PaymentSettings.from_env(environment("payment", "PAYMENT")), build_payment)
        booking_env = environment(
            "booking",
            "BOOKING",
            SEAT_TARGET=f"localhost:{seat.internal_port}",
            PAYMENT_TARGET=f"localhost:{payment.internal_port}",
            BOOKING_TICKET_KEY=TICKET_KEY,
        )
        booking = await start(BookingSettings.from_env(booking_env), build_booking)
        gateway_env = {
            **dev_credentials.service_env("gateway"),
            "GATEWAY_DESCRIPTOR_SET": str(farebox_descriptor_set(tmp_path / "descriptors.binpb")),
            "SEAT_TARGET": f"localhost:{seat.internal_port}",
            "BOOKING_TARGET": f"localhost:{booking.internal_port}",
        }
        gateway_host = build_gateway(GatewaySettings.from_env(Env(gateway_env)))
        port = await gateway_host.start("127.0.0.1:0")
        yield f"http://127.0.0.1:{port}"
    finally:
        if gateway_host is not None:
            await gateway_host.stop()
        for host in reversed(hosts):
            await host.stop(timedelta(seconds=1))


def is_grpc(span: ReadableSpan) -> bool:
    """A gRPC server or client span (not a driver's, not background work's)."""
    return span.attributes is not None and span.attributes.get("rpc.system") == "grpc"


async def grpc_spans_until(spans: InMemorySpanExporter, names: set[str]) -> tuple[ReadableSpan, ...]:
    """The gRPC spans finished so far, once server spans of every name in `names` are among them."""
    async with asyncio.timeout(10):
        while True:
            finished = tuple(span for span in spans.get_finished_spans() if is_grpc(span))
            if names <= {span.name for span in finished if span.kind is SpanKind.SERVER}:
                return finished
            await asyncio.sleep(0.02)


async def test_one_trace_id_spans_every_hop_of_a_booking(
    gateway: str, dev_credentials: DevCredentials, spans: InMemorySpanExporter
) -> None:
    suffix = uuid.uuid4().hex[:8]
    operator = bearer(dev_credentials, "operator", f"operator-{suffix}", tenant=f"tenant-{suffix}")
    alice = bearer(dev_credentials, "traveller", f"alice-{suffix}")
    trace_id = secrets.token_hex(16)
    reserve_parent, confirm_parent = secrets.token_hex(8), secrets.token_hex(8)
    async with aiohttp.ClientSession() as http:
        trip = json_format.MessageToDict(trip_message(rows=1))
        async with http.post(
            f"{gateway}/v1/trips", params={"requestId": f"trip-{suffix}"}, json=trip, headers=operator
        ) as response:
            assert response.status == 200, await response.text()
            trip_id = (await response.json())["trip"]["tripId"]
        spans.clear()  # the trip was created in a trace of its own

        reserve = {
            "tripId": trip_id,
            "seatNumbers": ["1A"],
            "fromStop": "A",
            "toStop": "D",
            "passengers": [{"fullName": "Ada Lovelace", "seatNumber": "1A"}],
        }
        headers = {
            **alice,
            "Idempotency-Key": f"reserve-{suffix}",
            "traceparent": f"00-{trace_id}-{reserve_parent}-01",
        }
        async with http.post(f"{gateway}/v1/bookings", json=reserve, headers=headers) as response:
            assert response.status == 200, await response.text()
            booking_id = (await response.json())["booking"]["bookingId"]
        headers = {
            **alice,
            "Idempotency-Key": f"confirm-{suffix}",
            "traceparent": f"00-{trace_id}-{confirm_parent}-01",
        }
        async with http.post(
            f"{gateway}/v1/bookings/{booking_id}:confirm",
            json={"paymentToken": "tok_success"},
            headers=headers,
        ) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["booking"]["status"] == "BOOKING_STATUS_CONFIRMED"

    finished = await grpc_spans_until(spans, BOOKING_SERVER_SPANS)
    assert {format(span.context.trace_id, "032x") for span in finished} == {trace_id}
    servers = {span.name: span for span in finished if span.kind is SpanKind.SERVER}
    # The booking service continues the caller's spans; the others continue the booking service's calls.
    parents = {name: format(span.parent.span_id, "016x") for name, span in servers.items() if span.parent}
    assert parents[f"{BOOKING}/ReserveSeats"] == reserve_parent
    assert parents[f"{BOOKING}/ConfirmBooking"] == confirm_parent
    clients = {format(span.context.span_id, "016x") for span in finished if span.kind is SpanKind.CLIENT}
    downstream = BOOKING_SERVER_SPANS - {f"{BOOKING}/ReserveSeats", f"{BOOKING}/ConfirmBooking"}
    assert {name: parents[name] in clients for name in downstream} == dict.fromkeys(downstream, True)
