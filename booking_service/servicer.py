"""BookingService over gRPC: protobuf in and out, the caller as the booking's owner."""

from __future__ import annotations

import grpc
from farebox.booking.v1 import booking_pb2, booking_service_pb2, booking_service_pb2_grpc

from booking_service.cancellation import Cancellations
from booking_service.domain import Booking, Passenger, ReservationRequest
from booking_service.reservations import Reservations
from booking_service.saga import SagaRunner
from common.errors import InvalidArgument, Unauthenticated
from common.request_context import current_principal


class BookingServicer(booking_service_pb2_grpc.BookingServiceServicer):
    """Converts requests to domain calls and bookings to responses."""

    def __init__(self, reservations: Reservations, runner: SagaRunner, cancellations: Cancellations) -> None:
        self.reservations = reservations
        self.runner = runner
        self.cancellations = cancellations

    async def ReserveSeats(
        self, request: booking_service_pb2.ReserveSeatsRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ReserveSeatsResponse:
        booking = await self.reservations.reserve(
            ReservationRequest(
                owner_id=_owner(),
                request_id=request.request_id,
                trip_id=request.trip_id,
                seat_numbers=tuple(request.seat_numbers),
                from_stop=request.from_stop,
                to_stop=request.to_stop,
                passengers=tuple(Passenger(p.full_name, p.seat_number) for p in request.passengers),
            )
        )
        return booking_service_pb2.ReserveSeatsResponse(booking=to_proto(booking))

    async def ConfirmBooking(
        self, request: booking_service_pb2.ConfirmBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ConfirmBookingResponse:
        owner = _owner()
        _require(
            ("booking_id", request.booking_id),
            ("payment_token", request.payment_token),
            ("request_id", request.request_id),
        )
        booking = await self.runner.confirm(
            owner, request.booking_id, request.payment_token, request.request_id
        )
        return booking_service_pb2.ConfirmBookingResponse(booking=to_proto(booking))

    async def CancelBooking(
        self, request: booking_service_pb2.CancelBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.CancelBookingResponse:
        owner = _owner()
        _require(("booking_id", request.booking_id), ("request_id", request.request_id))
        booking = await self.cancellations.cancel(
            owner, request.booking_id, request.reason, request.request_id
        )
        return booking_service_pb2.CancelBookingResponse(booking=to_proto(booking))

    async def GetBooking(
        self, request: booking_service_pb2.GetBookingRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.GetBookingResponse:
        booking = await self.reservations.get(_owner(), request.booking_id)
        return booking_service_pb2.GetBookingResponse(booking=to_proto(booking))

    async def ListBookings(
        self, request: booking_service_pb2.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> booking_service_pb2.ListBookingsResponse:
        bookings, token = await self.reservations.list(_owner(), request.page_size, request.page_token)
        return booking_service_pb2.ListBookingsResponse(
            bookings=[to_proto(booking) for booking in bookings], next_page_token=token
        )


def _owner() -> str:
    principal = current_principal()
    if principal.is_anonymous:
        raise Unauthenticated("bookings belong to a signed-in traveller")
    return principal.subject


def _require(*fields: tuple[str, str]) -> None:
    missing = [(name, "required") for name, value in fields if not value]
    if missing:
        raise InvalidArgument("required fields are missing", field_violations=missing)


def to_proto(booking: Booking) -> booking_pb2.Booking:
    """The contract's Booking for a domain booking."""
    message = booking_pb2.Booking(
        booking_id=booking.booking_id,
        owner_id=booking.owner_id,
        trip_id=booking.trip_id,
        seat_numbers=list(booking.seat_numbers),
        from_stop=booking.from_stop,
        to_stop=booking.to_stop,
        passengers=[
            booking_pb2.Passenger(full_name=p.full_name, seat_number=p.seat_number)
            for p in booking.passengers
        ],
        status=booking_pb2.BookingStatus.Value(f"BOOKING_STATUS_{booking.status.value}"),
        tickets=[
            booking_pb2.Ticket(
                ticket_id=t.ticket_id, seat_number=t.seat_number, passenger_name=t.passenger_name, code=t.code
            )
            for t in booking.tickets
        ],
        failure_reason=booking.failure_reason,
    )
    message.total_price.amount_minor = booking.total.amount_minor
    message.total_price.currency_code = booking.total.currency_code
    message.hold_expire_time.FromDatetime(booking.hold_expire_time)
    message.create_time.FromDatetime(booking.create_time)
    message.update_time.FromDatetime(booking.update_time)
    return message
