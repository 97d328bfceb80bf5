"""A seat is booked over HTTP only, through the gateway, from the real seat, payment and booking services.

Everything runs as it does in production, in this process: the services serve TLS with the dev
certificates and verify bearer tokens; the gateway calls their internal (mTLS) ports as `gateway`
and forwards the caller's Authorization; the booking service calls the others' internal ports as
itself. The flow is trips -> seat map -> reserve -> confirm -> get.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from google.protobuf import json_format

from booking_service.server import build_server as build_booking
from booking_service.settings import BookingSettings
from common.platform import Platform
from common.server import ServiceHost
from common.settings import Env
from payment_service.server import build_server as build_payment
from payment_service.settings import PaymentSettings
from seat_service.server import build_server as build_seat
from seat_service.settings import SeatSettings
from tests.integration.gateway.conftest import StartGateway
from tests.integration.seat.support import trip_message
from tests.support.databases import fresh_database, migrate_all
from tests.support.platform import DevCredentials
from tests.unit.booking.harness import TICKET_KEY


@pytest.fixture(scope="module")
def services_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database with every migration applied, for this module."""
    with fresh_database(postgres_server_url) as database_url:
        migrate_all(database_url)
        yield database_url


@dataclass
class Backends:
    """The internal ports of the running seat and booking services, as gateway settings."""

    targets: dict[str, str]


@pytest.fixture
async def services(
    services_database: str, redis_url: str, dev_credentials: DevCredentials
) -> AsyncIterator[Backends]:
    """Seat, payment and booking on free ports, each with its own certificate and the dev token key."""
    hosts: list[ServiceHost] = []

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

    try:
        seat_settings = SeatSettings.from_env(environment("seat", "SEAT"))
        seat_platform = Platform.configure(seat_settings.platform, service="seat")
        seat = await build_seat(seat_settings, platform=seat_platform)
        hosts.append(seat)
        await seat_platform.start(seat, seat_settings.server)

        payment_settings = PaymentSettings.from_env(environment("payment", "PAYMENT"))
        payment_platform = Platform.configure(payment_settings.platform, service="payment")
        payment = await build_payment(payment_settings, platform=payment_platform)
        hosts.append(payment)
        await payment_platform.start(payment, payment_settings.server)

        booking_env = environment(
            "booking",
            "BOOKING",
            SEAT_TARGET=f"localhost:{seat.internal_port}",
            PAYMENT_TARGET=f"localhost:{payment.internal_port}",
            BOOKING_TICKET_KEY=TICKET_KEY,
        )
        booking_settings = BookingSettings.from_env(booking_env)
        booking_platform = Platform.configure(booking_settings.platform, service="booking")
        booking = await build_booking(booking_settings, platform=booking_platform)
        hosts.append(booking)
        await booking_platform.start(booking, booking_settings.server)

        yield Backends(
            {
                "SEAT_TARGET": f"localhost:{seat.internal_port}",
                "BOOKING_TARGET": f"localhost:{booking.internal_port}",
            }
        )
    finally:
        for host in reversed(hosts):
            await host.stop(timedelta(seconds=1))


@pytest.fixture
async def gateway(services: Backends, start_gateway: StartGateway, dev_credentials: DevCredentials) -> str:
    """A gateway presenting its own certificate to the services' internal ports."""
    return await start_gateway(**dev_credentials.service_env("gateway"), **services.targets)


def bearer(credentials: DevCredentials, role: str, subject: str, tenant: str = "") -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.token(role, subject, tenant)}"}


async def test_books_a_seat_over_http_only(
    gateway: str, http: aiohttp.ClientSession, dev_credentials: DevCredentials
) -> None:
    suffix = uuid.uuid4().hex[:8]
    operator = bearer(dev_credentials, "operator", f"operator-{suffix}", tenant=f"tenant-{suffix}")
    alice = bearer(dev_credentials, "traveller", f"alice-{suffix}")
    trip = json_format.MessageToDict(trip_message(rows=2))
    async with http.post(
        f"{gateway}/v1/trips", params={"requestId": f"trip-{suffix}"}, json=trip, headers=operator
    ) as response:
        assert response.status == 200, await response.text()
        trip_id = (await response.json())["trip"]["tripId"]

    async with http.get(
        f"{gateway}/v1/trips", params={"origin": "A", "destination": "D", "pageSize": "100"}, headers=alice
    ) as response:
        assert response.status == 200, await response.text()
        found = [item for item in (await response.json())["trips"] if item["tripId"] == trip_id]
    assert [item["routeName"] for item in found] == ["A - D"]

    seat_map_url = f"{gateway}/v1/trips/{trip_id}/seat-map"
    async with http.get(seat_map_url, params={"fromStop": "A", "toStop": "D"}, headers=alice) as response:
        assert response.status == 200, await response.text()
        seats = (await response.json())["seatMap"]["seats"]
    seat = next(item for item in seats if item["state"] == "SEAT_STATE_AVAILABLE")["seat"]["seatNumber"]

    reserve = {
        "tripId": trip_id,
        "seatNumbers": [seat],
        "fromStop": "A",
        "toStop": "D",
        "passengers": [{"fullName": "Ada Lovelace", "seatNumber": seat}],
    }
    headers = {**alice, "Idempotency-Key": f"reserve-{suffix}"}
    async with http.post(f"{gateway}/v1/bookings", json=reserve, headers=headers) as response:
        assert response.status == 200, await response.text()
        booking = (await response.json())["booking"]
    assert booking["status"] == "BOOKING_STATUS_PENDING"
    async with http.post(f"{gateway}/v1/bookings", json=reserve, headers=headers) as response:
        assert (await response.json())["booking"]["bookingId"] == booking["bookingId"]

    confirm_url = f"{gateway}/v1/bookings/{booking['bookingId']}:confirm"
    confirm_headers = {**alice, "Idempotency-Key": f"confirm-{suffix}"}
    async with http.post(
        confirm_url, json={"paymentToken": "tok_success"}, headers=confirm_headers
    ) as response:
        assert response.status == 200, await response.text()
        confirmed = (await response.json())["booking"]
    assert confirmed["status"] == "BOOKING_STATUS_CONFIRMED"
    assert [ticket["seatNumber"] for ticket in confirmed["tickets"]] == [seat]

    async with http.get(f"{gateway}/v1/bookings/{booking['bookingId']}", headers=alice) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["booking"]["status"] == "BOOKING_STATUS_CONFIRMED"
    async with http.get(seat_map_url, params={"fromStop": "A", "toStop": "D"}) as response:
        states = {
            item["seat"]["seatNumber"]: item["state"] for item in (await response.json())["seatMap"]["seats"]
        }
    assert states[seat] == "SEAT_STATE_SOLD"


async def test_the_services_judge_the_forwarded_token(
    gateway: str, http: aiohttp.ClientSession, dev_credentials: DevCredentials
) -> None:
    trip = json_format.MessageToDict(trip_message(rows=1))
    url = f"{gateway}/v1/trips?requestId={uuid.uuid4().hex}"
    async with http.post(url, json=trip) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="farebox"'
    async with http.post(url, json=trip, headers={"Authorization": "Bearer not-a-token"}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="farebox", error="invalid_token"'
    traveller = bearer(dev_credentials, "traveller", f"bob-{uuid.uuid4().hex[:8]}")
    async with http.post(url, json=trip, headers=traveller) as response:
        assert response.status == 403
        assert (await response.json())["details"][0]["reason"] == "ROLE_NOT_ALLOWED"


async def test_readyz_reaches_the_services_over_tls(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/readyz") as response:
        assert response.status == 200, await response.text()
        assert set((await response.json())["services"].values()) == {"SERVING"}


async def test_a_gateway_without_certificates_cannot_reach_tls_services(
    services: Backends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**services.targets)
    async with http.get(f"{gateway}/v1/trips") as response:
        assert response.status == 503
    async with http.get(f"{gateway}/readyz") as response:
        assert response.status == 503
