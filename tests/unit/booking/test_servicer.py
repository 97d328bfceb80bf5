"""BookingService over gRPC with fake downstreams: owners, validation, paging, limits, idempotency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
from farebox.booking.v1 import booking_pb2
from farebox.booking.v1 import booking_service_pb2 as api
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub

from booking_service.server import build_server
from common import errors
from tests.unit.booking.fakes import FakeDownstreams
from tests.unit.booking.harness import booking_settings, new_id
from tests.unit.booking.principal import SubjectFromMetadata, as_traveller


@pytest.fixture
async def stub(
    fakes: FakeDownstreams, booking_database: str, redis_url: str
) -> AsyncIterator[BookingServiceStub]:
    settings = booking_settings(booking_database, redis_url, fakes.target, BOOKING_MAX_PENDING_PER_USER="3")
    host = await build_server(settings, auth_interceptors=[SubjectFromMetadata()])
    port = await host.start("127.0.0.1:0")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield BookingServiceStub(channel)
    await host.stop(timedelta(seconds=1))


def reserve_request(
    trip_id: str, seats: tuple[str, ...] = ("1A",), request_id: str = ""
) -> api.ReserveSeatsRequest:
    return api.ReserveSeatsRequest(
        trip_id=trip_id,
        seat_numbers=list(seats),
        from_stop="AMS",
        to_stop="BER",
        passengers=[booking_pb2.Passenger(full_name=f"P {seat}", seat_number=seat) for seat in seats],
        request_id=request_id or new_id("req"),
    )


async def failure(call: object) -> tuple[grpc.StatusCode, str, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    info = errors.error_info(caught.value)
    bad = errors.bad_request(caught.value)
    return (
        caught.value.code(),
        info.reason if info else "",
        [v.field for v in bad.field_violations] if bad else [],
    )


async def test_anonymous_callers_are_refused(stub, fakes) -> None:
    code, _, _ = await failure(stub.ListBookings(api.ListBookingsRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_traveller_sees_only_their_own_bookings(stub, fakes) -> None:
    alice, bob, trip = new_id("alice"), new_id("bob"), new_id("trip")
    fakes.seats.add_trip(trip)
    reply = await stub.ReserveSeats(reserve_request(trip), metadata=as_traveller(alice))
    booking = reply.booking
    assert booking.status == booking_pb2.BOOKING_STATUS_PENDING
    assert (booking.owner_id, booking.total_price.amount_minor, booking.total_price.currency_code) == (
        alice, 1250, "EUR")  # fmt: skip
    mine = await stub.GetBooking(
        api.GetBookingRequest(booking_id=booking.booking_id), metadata=as_traveller(alice)
    )
    assert mine.booking == booking
    request = api.GetBookingRequest(booking_id=booking.booking_id)
    assert (await failure(stub.GetBooking(request, metadata=as_traveller(bob))))[:2] == (
        grpc.StatusCode.NOT_FOUND, "BOOKING_NOT_FOUND")  # fmt: skip
    cancel = api.CancelBookingRequest(booking_id=booking.booking_id, request_id=new_id("c"))
    assert (await failure(stub.CancelBooking(cancel, metadata=as_traveller(bob))))[
        0
    ] == grpc.StatusCode.NOT_FOUND
    listed = await stub.ListBookings(api.ListBookingsRequest(), metadata=as_traveller(bob))
    assert list(listed.bookings) == []


async def test_confirm_over_grpc_returns_tickets(stub, fakes) -> None:
    alice, trip = new_id("alice"), new_id("trip")
    fakes.seats.add_trip(trip)
    booking = (
        await stub.ReserveSeats(reserve_request(trip, ("2A", "2B")), metadata=as_traveller(alice))
    ).booking
    request = api.ConfirmBookingRequest(
        booking_id=booking.booking_id, payment_token="tok_success", request_id="c"
    )
    confirmed = (await stub.ConfirmBooking(request, metadata=as_traveller(alice))).booking
    assert confirmed.status == booking_pb2.BOOKING_STATUS_CONFIRMED
    assert [t.seat_number for t in confirmed.tickets] == ["2A", "2B"]
    replay = (await stub.ConfirmBooking(request, metadata=as_traveller(alice))).booking
    assert replay == confirmed
    assert fakes.payments.script.count("AuthorizePayment") == 1


async def test_pages_of_bookings_newest_first(stub, fakes) -> None:
    alice, trip = new_id("alice"), new_id("trip")
    fakes.seats.add_trip(trip)
    made = []
    for seat in ("1A", "1B", "1C"):
        made.append(
            (await stub.ReserveSeats(reserve_request(trip, (seat,)), metadata=as_traveller(alice))).booking
        )
    first = await stub.ListBookings(api.ListBookingsRequest(page_size=2), metadata=as_traveller(alice))
    assert [b.booking_id for b in first.bookings] == [made[2].booking_id, made[1].booking_id]
    rest = await stub.ListBookings(
        api.ListBookingsRequest(page_size=2, page_token=first.next_page_token), metadata=as_traveller(alice)
    )
    assert [b.booking_id for b in rest.bookings] == [made[0].booking_id]
    assert rest.next_page_token == ""
    bad = api.ListBookingsRequest(page_token="bogus!")
    assert await failure(stub.ListBookings(bad, metadata=as_traveller(alice))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", ["page_token"])  # fmt: skip


async def test_limits_are_failed_preconditions(stub, fakes) -> None:
    alice, trip = new_id("alice"), new_id("trip")
    fakes.seats.add_trip(trip)
    seats = tuple(f"{n}A" for n in range(1, 8))
    code, reason, _ = await failure(
        stub.ReserveSeats(reserve_request(trip, seats), metadata=as_traveller(alice))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOO_MANY_SEATS")
    for seat in ("1A", "1B", "1C"):
        await stub.ReserveSeats(reserve_request(trip, (seat,)), metadata=as_traveller(alice))
    code, reason, _ = await failure(
        stub.ReserveSeats(reserve_request(trip, ("1D",)), metadata=as_traveller(alice))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOO_MANY_PENDING_BOOKINGS")
    assert fakes.seats.script.count("HoldSeats") == 3  # refused before holding anything


async def test_bad_input_and_taken_seats(stub, fakes) -> None:
    alice, bob, trip = new_id("alice"), new_id("bob"), new_id("trip")
    fakes.seats.add_trip(trip)
    bad = reserve_request(trip)
    bad.to_stop = ""
    assert (await failure(stub.ReserveSeats(bad, metadata=as_traveller(alice))))[2] == ["to_stop"]
    confirm = api.ConfirmBookingRequest(booking_id="b", request_id="r")
    assert (await failure(stub.ConfirmBooking(confirm, metadata=as_traveller(alice))))[2] == ["payment_token"]
    await stub.ReserveSeats(reserve_request(trip), metadata=as_traveller(alice))
    code, reason, _ = await failure(stub.ReserveSeats(reserve_request(trip), metadata=as_traveller(bob)))
    assert (code, reason) == (grpc.StatusCode.ABORTED, "SEAT_UNAVAILABLE")


async def test_a_request_id_replays_its_booking_and_refuses_other_requests(stub, fakes) -> None:
    alice, trip = new_id("alice"), new_id("trip")
    fakes.seats.add_trip(trip)
    first = await stub.ReserveSeats(reserve_request(trip, request_id="k1"), metadata=as_traveller(alice))
    again = await stub.ReserveSeats(reserve_request(trip, request_id="k1"), metadata=as_traveller(alice))
    assert again.booking == first.booking
    other = reserve_request(trip, ("1B",), request_id="k1")
    code, reason, fields = await failure(stub.ReserveSeats(other, metadata=as_traveller(alice)))
    assert (code, reason, fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "IDEMPOTENCY_KEY_REUSED",
        ["request_id"],
    )
