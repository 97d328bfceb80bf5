"""Reserving seats as a pending booking, and reading an owner's bookings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from booking_service.clients import SeatClient
from booking_service.domain import (
    Booking,
    BookingStatus,
    Limits,
    Money,
    ReservationRequest,
    booking_id_for,
    check_pending_limit,
    decode_page_token,
    encode_page_token,
    page_size_of,
    step_request_id,
    validate_reservation,
)
from booking_service.metrics import HOLD_SEATS, compensation, timed_step
from booking_service.store import BookingStore, cursor_of
from common.errors import FailedPrecondition, FareboxError, IdempotencyKeyReused, NotFound

log = structlog.get_logger()


class Reservations:
    """Holds seats through the seat service and records the pending booking."""

    def __init__(self, store: BookingStore, seat: SeatClient, limits: Limits, hold_ttl: timedelta) -> None:
        self.store = store
        self.seat = seat
        self.limits = limits
        self.hold_ttl = hold_ttl

    async def reserve(self, request: ReservationRequest) -> Booking:
        """The pending booking for the request; a repeated request returns the same booking."""
        validate_reservation(request, self.limits)
        booking_id = booking_id_for(request.owner_id, request.request_id)
        existing = await self.store.get(booking_id)
        if existing is not None:
            if not existing.same_request(request):
                raise IdempotencyKeyReused(
                    "request_id was used for another reservation",
                    field_violations=[("request_id", "already used with other parameters")],
                )
            return existing
        check_pending_limit(await self.store.count_open(request.owner_id), self.limits)
        with timed_step(HOLD_SEATS):
            hold = (
                await self.seat.hold_seats(
                    trip_id=request.trip_id,
                    seat_numbers=list(request.seat_numbers),
                    from_stop=request.from_stop,
                    to_stop=request.to_stop,
                    holder_id=request.owner_id,
                    ttl=self.hold_ttl,
                    request_id=step_request_id(booking_id, "hold"),
                )
            ).hold
        now = datetime.now(UTC)
        booking = Booking(
            booking_id=booking_id,
            owner_id=request.owner_id,
            request_id=request.request_id,
            trip_id=request.trip_id,
            seat_numbers=request.seat_numbers,
            from_stop=request.from_stop,
            to_stop=request.to_stop,
            passengers=request.passengers,
            total=Money(hold.total_price.amount_minor, hold.total_price.currency_code),
            status=BookingStatus.PENDING,
            hold_id=hold.hold_id,
            hold_expire_time=hold.expire_time.ToDatetime(tzinfo=UTC),
            failure_reason="",
            create_time=now,
            update_time=now,
        )
        try:
            created, _ = await self.store.insert_reservation(booking, self.limits)
        except FailedPrecondition:
            await self._release(booking)
            raise
        log.info(
            "booking_reserved",
            booking_id=booking_id,
            trip_id=request.trip_id,
            seats=len(request.seat_numbers),
        )
        return created

    async def _release(self, booking: Booking) -> None:
        try:
            with compensation("release_hold"):
                await self.seat.release_hold(
                    booking.hold_id, step_request_id(booking.booking_id, "refused-release")
                )
        except FareboxError as error:
            log.warning("refused_hold_release_failed", booking_id=booking.booking_id, reason=error.reason)

    async def get(self, owner_id: str, booking_id: str) -> Booking:
        """One of the owner's bookings; another owner's is NotFound."""
        booking = await self.store.get(booking_id, owner_id) if booking_id else None
        if booking is None:
            raise NotFound(f"booking {booking_id} not found", reason="BOOKING_NOT_FOUND")
        return booking

    async def list(self, owner_id: str, page_size: int, page_token: str) -> tuple[list[Booking], str]:
        """A page of the owner's bookings, newest first, and the next page's token ('' on the last)."""
        size = page_size_of(page_size)
        cursor = decode_page_token(page_token) if page_token else None
        bookings = await self.store.list_page(owner_id, cursor, size + 1)
        if len(bookings) <= size:
            return bookings, ""
        page = bookings[:size]
        return page, encode_page_token(cursor_of(page[-1]))
