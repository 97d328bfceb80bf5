"""End-to-end booking fixtures: seat, payment and booking as real processes on a database of their own,
called as deployed: travellers with bearer tokens on booking's public port, an admin on seat's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
from farebox.booking.v1 import booking_pb2
from farebox.booking.v1 import booking_service_pb2 as api
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from farebox.seat.v1 import seat_inventory_service_pb2 as seat_api
from farebox.seat.v1.seat_inventory_service_pb2_grpc import SeatInventoryServiceStub

from seat_service import messages
from seat_service.demo import demo_trip
from tests.e2e.booking.stack import ServiceProcess, Stack, start_stack
from tests.support.databases import fresh_database, migrate_all
from tests.support.platform import DevCredentials
from tests.unit.booking.harness import new_id

FROM, TO = "AMS", "DUS"
Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str,
    redis_url: str,
    dev_credentials: DevCredentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The three services and the relay, started once for the module, on a fresh database."""
    with fresh_database(postgres_server_url) as database_url:
        migrate_all(database_url)
        logs = tmp_path_factory.mktemp("booking-e2e")
        running = start_stack(database_url, redis_url, logs, dev_credentials)
        try:
            yield running
        finally:
            running.stop()


def public_channel(stack: Stack, process: ServiceProcess) -> grpc.aio.Channel:
    """A TLS channel to a process's public port; calls bring their own bearer token."""
    credentials = grpc.ssl_channel_credentials(stack.credentials.ca_pem())
    return grpc.aio.secure_channel(process.target, credentials)


@pytest.fixture
async def booking_stub(stack: Stack) -> AsyncIterator[BookingServiceStub]:
    """A stub on the stack's booking process."""
    async with public_channel(stack, stack.booking) as channel:
        yield BookingServiceStub(channel)


async def new_trip(stack: Stack, rows: int = 5) -> str:
    """A demo trip (AMS-UTR-ARN-DUS, four seats a row, rows 1-2 premium) created by an admin."""
    request = seat_api.CreateTripRequest(trip=messages.trip(demo_trip(rows=rows)), request_id=new_id("trip"))
    async with public_channel(stack, stack.seat) as channel:
        admin = stack.credentials.bearer("admin", "e2e-admin")
        response = await SeatInventoryServiceStub(channel).CreateTrip(request, metadata=admin, timeout=10)
    return str(response.trip.trip_id)


@dataclass
class Traveller:
    """A traveller calling the booking service as themselves (`metadata` names them)."""

    stub: BookingServiceStub
    subject: str
    metadata: Metadata

    async def reserve(
        self, trip_id: str, seats: tuple[str, ...] = ("3A",), request_id: str = ""
    ) -> booking_pb2.Booking:
        request = api.ReserveSeatsRequest(
            trip_id=trip_id,
            seat_numbers=list(seats),
            from_stop=FROM,
            to_stop=TO,
            passengers=[
                booking_pb2.Passenger(full_name=f"{self.subject} {seat}", seat_number=seat) for seat in seats
            ],
            request_id=request_id or new_id("reserve"),
        )
        return (await self.stub.ReserveSeats(request, metadata=self.metadata, timeout=20)).booking

    async def confirm(
        self, booking_id: str, token: str = "tok_success", request_id: str = ""
    ) -> booking_pb2.Booking:
        request = api.ConfirmBookingRequest(
            booking_id=booking_id, payment_token=token, request_id=request_id or new_id("confirm")
        )
        return (await self.stub.ConfirmBooking(request, metadata=self.metadata, timeout=20)).booking

    async def get(self, booking_id: str) -> booking_pb2.Booking:
        request = api.GetBookingRequest(booking_id=booking_id)
        return (await self.stub.GetBooking(request, metadata=self.metadata, timeout=10)).booking

    async def cancel(self, booking_id: str, request_id: str = "") -> booking_pb2.Booking:
        request = api.CancelBookingRequest(
            booking_id=booking_id, reason="test", request_id=request_id or new_id("c")
        )
        return (await self.stub.CancelBooking(request, metadata=self.metadata, timeout=20)).booking

    def on(self, stub: BookingServiceStub) -> Traveller:
        """The same traveller calling through another stub."""
        return Traveller(stub, self.subject, self.metadata)


def signed_in(stack: Stack, stub: BookingServiceStub, subject: str) -> Traveller:
    """A traveller with a bearer token for `subject`."""
    return Traveller(stub, subject, stack.credentials.bearer("traveller", subject))


@pytest.fixture
def traveller(stack: Stack, booking_stub: BookingServiceStub) -> Traveller:
    """A new traveller."""
    return signed_in(stack, booking_stub, new_id("traveller"))
