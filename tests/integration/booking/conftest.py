"""Booking with the real seat and payment services, all in-process, on a database of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub

from booking_service.server import build_server as build_booking
from common.server import ServiceHost
from common.settings import Env
from payment_service.server import build_server as build_payment
from payment_service.settings import PaymentSettings
from seat_service.server import build_server as build_seat
from seat_service.settings import SeatSettings
from tests.e2e.booking.conftest import Traveller
from tests.integration.seat.support import FakeClock
from tests.support.auth import stand_in_auth
from tests.support.databases import fresh_database, migrate_all
from tests.unit.booking.harness import booking_settings, new_id
from tests.unit.booking.principal import SubjectFromMetadata, as_traveller


@pytest.fixture(scope="module")
def services_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database with every migration applied, for this module."""
    with fresh_database(postgres_server_url) as database_url:
        migrate_all(database_url)
        yield database_url


@dataclass
class Services:
    """The three services started in this process, and the seat service's clock."""

    database_url: str
    seat_clock: FakeClock
    booking: BookingServiceStub
    hosts: list[ServiceHost]


@pytest.fixture
async def services(services_database: str, redis_url: str) -> AsyncIterator[Services]:
    """Seat (with a clock the test moves), payment and booking, started on free ports over plaintext;
    seat and payment see the booking service as a service, booking sees its callers as travellers."""
    base = {"DATABASE_URL": services_database, "REDIS_URL": redis_url, "FAREBOX_INSECURE_DEV": "true"}
    clock = FakeClock()
    seat_settings = SeatSettings.from_env(Env({**base, "SEAT_PORT": "0"}))
    seat = await build_seat(seat_settings, clock, auth_interceptors=stand_in_auth())
    seat_port = await seat.start("127.0.0.1:0")
    payment_settings = PaymentSettings.from_env(Env({**base, "PAYMENT_PORT": "0"}))
    payment = await build_payment(payment_settings, auth_interceptors=stand_in_auth())
    payment_port = await payment.start("127.0.0.1:0")
    settings = booking_settings(
        services_database, redis_url, "unused", SEAT_TARGET=f"127.0.0.1:{seat_port}",
        PAYMENT_TARGET=f"127.0.0.1:{payment_port}",
    )  # fmt: skip
    booking = await build_booking(settings, auth_interceptors=[SubjectFromMetadata()])
    booking_port = await booking.start("127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{booking_port}") as channel:
            yield Services(services_database, clock, BookingServiceStub(channel), [booking, payment, seat])
    finally:
        for host in (booking, payment, seat):
            await host.stop(timedelta(seconds=1))


def named(stub: BookingServiceStub, subject: str) -> Traveller:
    """A traveller named by the stand-in's metadata."""
    return Traveller(stub, subject, as_traveller(subject))


@pytest.fixture
def traveller(services: Services) -> Traveller:
    """A new traveller on the in-process booking service."""
    return named(services.booking, new_id("traveller"))
