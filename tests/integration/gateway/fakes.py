"""In-memory SeatInventoryService and BookingService servicers for driving the translator end to end.

They keep just enough state for a booking to go trips -> seat map -> reserve -> confirm -> get, raise
the domain errors of common/errors.py the way the real services do, and echo the metadata they
receive back as `echo-<key>` header metadata so header translation can be checked from outside.
Anything valid by the contract is accepted: unknown ids are NOT_FOUND, never INVALID_ARGUMENT.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
from farebox.booking.v1 import booking_pb2, booking_service_pb2, booking_service_pb2_grpc
from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2 as seat_api
from farebox.seat.v1 import seat_inventory_service_pb2_grpc, seat_pb2
from google.protobuf import timestamp_pb2

from common.errors import (
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    SeatUnavailable,
    Unauthenticated,
    Unavailable,
)
from common.interceptors.chain import standard_interceptors
from common.server import ServiceHost

TRIP_ID = "trip-ams-ber"
DECLINED_TOKEN = "tok_declined"
SLOW_BOOKING_ID = "slow"
TOKEN = "traveller-token"
RATE_LIMIT_KEY = "x-fake-rate-limit"
UNAVAILABLE_KEY = "x-fake-unavailable"
_ECHOED = ("authorization", "x-request-id", "x-forwarded-for", "traceparent", "tracestate", "tenant")

StreamItem = seat_api.WatchSeatMapResponse | Exception | None


def sample_trip() -> seat_pb2.Trip:
    """A trip from Amsterdam to Berlin with four seats and one fare per class and segment."""
    return seat_pb2.Trip(
        trip_id=TRIP_ID,
        operator_id="op-1",
        route_name="Amsterdam - Berlin",
        stops=[
            seat_pb2.Stop(code="AMS", name="Amsterdam Sloterdijk", minutes_after_departure=0),
            seat_pb2.Stop(code="BER", name="Berlin ZOB", minutes_after_departure=400),
        ],
        departure_time=timestamp_pb2.Timestamp(seconds=1_800_000_000),
        seats=[
            seat_pb2.Seat(
                seat_number=f"{row}{column}",
                row=row,
                column=index + 1,
                seat_class=seat_pb2.SEAT_CLASS_STANDARD,
            )
            for row in (1, 2)
            for index, column in enumerate("AB")
        ],
        fares=[
            seat_pb2.Fare(
                seat_class=seat_pb2.SEAT_CLASS_STANDARD,
                from_stop="AMS",
                to_stop="BER",
                price=money_pb2.Money(amount_minor=2500, currency_code="EUR"),
            )
        ],
    )


@dataclass
class Inventory:
    """The state both fakes share: trips, sold or held seats, bookings, and live watch streams."""

    trips: dict[str, seat_pb2.Trip] = field(default_factory=lambda: {TRIP_ID: sample_trip()})
    taken: dict[str, set[str]] = field(default_factory=dict)
    bookings: dict[str, booking_pb2.Booking] = field(default_factory=dict)
    by_request_id: dict[str, str] = field(default_factory=dict)
    watch_queues: list[asyncio.Queue[StreamItem]] = field(default_factory=list)
    watch_started: asyncio.Event = field(default_factory=asyncio.Event)
    watch_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    watch_follows: bool = True
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def seat_map(self, trip: seat_pb2.Trip, from_stop: str, to_stop: str) -> seat_pb2.SeatMap:
        taken = self.taken.get(trip.trip_id, set())
        return seat_pb2.SeatMap(
            trip_id=trip.trip_id,
            from_stop=from_stop,
            to_stop=to_stop,
            seats=[
                seat_pb2.SeatAvailability(
                    seat=seat,
                    state=seat_pb2.SEAT_STATE_SOLD
                    if seat.seat_number in taken
                    else seat_pb2.SEAT_STATE_AVAILABLE,
                    price=money_pb2.Money(amount_minor=2500, currency_code="EUR"),
                )
                for seat in trip.seats
            ],
            read_time=timestamp_pb2.Timestamp(seconds=1_800_000_000),
        )


async def echo_metadata(context: grpc.aio.ServicerContext) -> None:
    """Sends the received allow-listed metadata back as `echo-<key>` header metadata."""
    received = [(item.key, str(item.value)) for item in context.invocation_metadata() or ()]
    await context.send_initial_metadata([(f"echo-{key}", value) for key, value in received if key in _ECHOED])
    context.set_trailing_metadata([("x-served-by", "fake")])
    keys = {key for key, _ in received}
    if RATE_LIMIT_KEY in keys:
        raise ResourceExhausted("too many requests", retry_after=timedelta(seconds=3))
    if UNAVAILABLE_KEY in keys:
        raise Unavailable("the store is down", reason="STORE_UNAVAILABLE")


def require_caller(context: grpc.aio.ServicerContext) -> None:
    """UNAUTHENTICATED unless the caller sends the one known bearer token."""
    sent = [str(item.value) for item in context.invocation_metadata() or () if item.key == "authorization"]
    if sent != [f"Bearer {TOKEN}"]:
        raise Unauthenticated("a valid bearer token is required")


class FakeSeatInventory(seat_inventory_service_pb2_grpc.SeatInventoryServiceServicer):
    """Trips and seat maps from the shared inventory."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def _trip(self, trip_id: str) -> seat_pb2.Trip:
        trip = self.inventory.trips.get(trip_id)
        if trip is None:
            raise NotFound(f"trip {trip_id!r} not found")
        return trip

    async def CreateTrip(
        self, request: seat_api.CreateTripRequest, context: grpc.aio.ServicerContext
    ) -> seat_api.CreateTripResponse:
        await echo_metadata(context)
        require_caller(context)
        trip = seat_pb2.Trip()
        trip.CopyFrom(request.trip)
        trip.trip_id = f"trip-{next(self.inventory.ids)}"
        self.inventory.trips[trip.trip_id] = trip
        return seat_api.CreateTripResponse(trip=trip)

    async def GetTrip(
        self, request: seat_api.GetTripRequest, context: grpc.aio.ServicerContext
    ) -> seat_api.GetTripResponse:
        await echo_metadata(context)
        return seat_api.GetTripResponse(trip=self._trip(request.trip_id))

    async def ListTrips(
        self, request: seat_api.ListTripsRequest, context: grpc.aio.ServicerContext
    ) -> seat_api.ListTripsResponse:
        await echo_metadata(context)
        trips = [
            trip
            for trip in self.inventory.trips.values()
            if request.origin in ("", *(stop.code for stop in trip.stops))
            and request.destination in ("", *(stop.code for stop in trip.stops))
        ]
        return seat_api.ListTripsResponse(trips=trips[: max(1, min(request.page_size or 20, 100))])

    async def GetSeatMap(
        self, request: seat_api.GetSeatMapRequest, context: grpc.aio.ServicerContext
    ) -> seat_api.GetSeatMapResponse:
        await echo_metadata(context)
        trip = self._trip(request.trip_id)
        return seat_api.GetSeatMapResponse(
            seat_map=self.inventory.seat_map(trip, request.from_stop, request.to_stop)
        )

    async def WatchSeatMap(
        self, request: seat_api.WatchSeatMapRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[seat_api.WatchSeatMapResponse]:
        trip = self._trip(request.trip_id)
        queue: asyncio.Queue[StreamItem] = asyncio.Queue()
        self.inventory.watch_queues.append(queue)
        self.inventory.watch_started.set()
        try:
            yield seat_api.WatchSeatMapResponse(
                snapshot=self.inventory.seat_map(trip, request.from_stop, request.to_stop)
            )
            while self.inventory.watch_follows and (item := await queue.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        except asyncio.CancelledError:
            self.inventory.watch_cancelled.set()
            raise
        finally:
            self.inventory.watch_queues.remove(queue)


class FakeBooking(booking_service_pb2_grpc.BookingServiceServicer):
    """Bookings over the shared inventory; the caller must send a token."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def _booking(self, booking_id: str) -> booking_pb2.Booking:
        booking = self.inventory.bookings.get(booking_id)
        if booking is None:
            raise NotFound(f"booking {booking_id!r} not found")
        return booking

    async def ReserveSeats(
        self, request: booking_service_pb2.ReserveSeatsRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ReserveSeatsResponse:
        await echo_metadata(context)
        require_caller(context)
        if request.request_id in self.inventory.by_request_id:
            booking = self._booking(self.inventory.by_request_id[request.request_id])
            return booking_service_pb2.ReserveSeatsResponse(booking=booking)
        trip = self.inventory.trips.get(request.trip_id)
        if trip is None:
            raise NotFound(f"trip {request.trip_id!r} not found")
        taken = self.inventory.taken.setdefault(trip.trip_id, set())
        clashes = sorted(set(request.seat_numbers) & taken)
        if clashes:
            raise SeatUnavailable(clashes)
        taken.update(request.seat_numbers)
        booking = booking_pb2.Booking(
            booking_id=f"bk-{next(self.inventory.ids)}",
            owner_id="traveller",
            trip_id=trip.trip_id,
            seat_numbers=request.seat_numbers,
            from_stop=request.from_stop,
            to_stop=request.to_stop,
            passengers=request.passengers,
            total_price=money_pb2.Money(amount_minor=2500 * len(request.seat_numbers), currency_code="EUR"),
            status=booking_pb2.BOOKING_STATUS_PENDING,
        )
        self.inventory.bookings[booking.booking_id] = booking
        if request.request_id:
            self.inventory.by_request_id[request.request_id] = booking.booking_id
        return booking_service_pb2.ReserveSeatsResponse(booking=booking)

    async def ConfirmBooking(
        self, request: booking_service_pb2.ConfirmBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ConfirmBookingResponse:
        await echo_metadata(context)
        require_caller(context)
        booking = self._booking(request.booking_id)
        if request.payment_token == DECLINED_TOKEN:
            raise FailedPrecondition("the card was declined", reason="CARD_DECLINED")
        if booking.status == booking_pb2.BOOKING_STATUS_PENDING:
            booking.status = booking_pb2.BOOKING_STATUS_CONFIRMED
            booking.tickets.extend(
                booking_pb2.Ticket(ticket_id=f"tk-{seat}", seat_number=seat, code=f"code-{seat}")
                for seat in booking.seat_numbers
            )
        return booking_service_pb2.ConfirmBookingResponse(booking=booking)

    async def CancelBooking(
        self, request: booking_service_pb2.CancelBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.CancelBookingResponse:
        await echo_metadata(context)
        require_caller(context)
        booking = self._booking(request.booking_id)
        booking.status = booking_pb2.BOOKING_STATUS_CANCELLED
        self.inventory.taken.get(booking.trip_id, set()).difference_update(booking.seat_numbers)
        return booking_service_pb2.CancelBookingResponse(booking=booking)

    async def GetBooking(
        self, request: booking_service_pb2.GetBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.GetBookingResponse:
        await echo_metadata(context)
        require_caller(context)
        if request.booking_id == SLOW_BOOKING_ID:
            await asyncio.sleep(30)
        return booking_service_pb2.GetBookingResponse(booking=self._booking(request.booking_id))

    async def ListBookings(
        self, request: booking_service_pb2.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ListBookingsResponse:
        await echo_metadata(context)
        require_caller(context)
        return booking_service_pb2.ListBookingsResponse(bookings=list(self.inventory.bookings.values()))


@dataclass
class FakeBackends:
    """The two fake servers, started on free ports, and the inventory they share."""

    inventory: Inventory
    seat: ServiceHost
    booking: ServiceHost

    @property
    def targets(self) -> dict[str, str]:
        """Backend targets for the gateway's settings."""
        return {
            "SEAT_TARGET": f"127.0.0.1:{self.seat.port}",
            "BOOKING_TARGET": f"127.0.0.1:{self.booking.port}",
        }

    async def stop(self) -> None:
        await self.seat.stop(timedelta(0))
        await self.booking.stop(timedelta(0))


async def start_fake_backends(*, watch_follows: bool = True) -> FakeBackends:
    """Starts the fake seat and booking servers on free ports, with the standard interceptors.

    Without `watch_follows` a seat-map watch ends after its snapshot.
    """
    inventory = Inventory(watch_follows=watch_follows)
    seat_name = seat_api.DESCRIPTOR.services_by_name["SeatInventoryService"].full_name
    booking_name = booking_service_pb2.DESCRIPTOR.services_by_name["BookingService"].full_name
    seat = ServiceHost.create([seat_name], interceptors=standard_interceptors())
    seat_inventory_service_pb2_grpc.add_SeatInventoryServiceServicer_to_server(
        FakeSeatInventory(inventory), seat.server
    )
    booking = ServiceHost.create([booking_name], interceptors=standard_interceptors())
    booking_service_pb2_grpc.add_BookingServiceServicer_to_server(FakeBooking(inventory), booking.server)
    await seat.start("127.0.0.1:0")
    await booking.start("127.0.0.1:0")
    return FakeBackends(inventory=inventory, seat=seat, booking=booking)
