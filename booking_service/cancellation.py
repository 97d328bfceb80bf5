"""Cancelling a booking: an unpaid one releases its hold, a paid one is refunded and its seats returned."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog

from booking_service.clients import SeatClient
from booking_service.domain import (
    Booking,
    BookingStatus,
    Saga,
    SagaKind,
    SagaOutcome,
    SagaStep,
    check_refundable,
    saga_id_for,
    step_request_id,
)
from booking_service.saga import SagaPostponed, SagaRunner
from booking_service.store import BookingStore
from common.errors import Aborted, FailedPrecondition, FareboxError, NotFound

log = structlog.get_logger()

_UNPAID = (BookingStatus.PENDING, BookingStatus.PAYMENT_FAILED)


class Cancellations:
    """Cancels bookings for their owners."""

    def __init__(self, store: BookingStore, seat: SeatClient, runner: SagaRunner, cutoff: timedelta) -> None:
        self.store = store
        self.seat = seat
        self.runner = runner
        self.cutoff = cutoff

    async def cancel(self, owner_id: str, booking_id: str, reason: str, request_id: str) -> Booking:
        """The cancelled booking; cancelling a cancelled booking returns it unchanged."""
        booking = await self.store.get(booking_id, owner_id) if booking_id else None
        if booking is None:
            raise NotFound(f"booking {booking_id} not found", reason="BOOKING_NOT_FOUND")
        if booking.status is BookingStatus.CANCELLED:
            return booking
        if booking.status is BookingStatus.EXPIRED:
            raise FailedPrecondition("the booking has expired", reason="BOOKING_EXPIRED")
        if booking.status is BookingStatus.CONFIRMING:
            raise Aborted(
                "the booking is being confirmed",
                reason="CONFIRMATION_IN_PROGRESS",
                retry_after=timedelta(seconds=1),
            )
        if booking.status in _UNPAID:
            return await self._cancel_unpaid(booking, reason)
        return await self._cancel_paid(booking, reason, request_id)

    async def _cancel_unpaid(self, booking: Booking, reason: str) -> Booking:
        async with self.store.transaction() as conn:
            cancelled = await self.store.set_status(
                conn, booking.booking_id, BookingStatus.CANCELLED, cancel_reason=reason, sources=_UNPAID
            )
        if cancelled is None:
            raise Aborted("the booking changed while cancelling; retry", reason="BOOKING_CHANGED")
        try:
            await self.seat.release_hold(
                booking.hold_id, step_request_id(booking.booking_id, "cancel-release")
            )
        except FareboxError as error:
            log.warning("cancelled_hold_release_failed", booking_id=booking.booking_id, reason=error.reason)
        log.info("booking_cancelled", booking_id=booking.booking_id, paid=False)
        return cancelled

    async def _cancel_paid(self, booking: Booking, reason: str, request_id: str) -> Booking:
        trip = (await self.seat.get_trip(booking.trip_id)).trip
        check_refundable(trip.departure_time.ToDatetime(tzinfo=UTC), datetime.now(UTC), self.cutoff)
        lease_owner = uuid.uuid4().hex
        async with self.store.transaction() as conn:
            locked = await self.store.lock_for_saga(conn, booking.booking_id, booking.owner_id)
            if locked is None or locked.status is not BookingStatus.CONFIRMED:
                raise Aborted("the booking changed while cancelling; retry", reason="BOOKING_CHANGED")
            sagas = await self.store.sagas_of(conn, booking.booking_id)
            paid = next(s for s in sagas if s.kind is SagaKind.CONFIRM and s.outcome is SagaOutcome.CONFIRMED)
            attempt = sagas[0].attempt + 1
            saga = await self.store.insert_saga(
                conn,
                Saga(
                    saga_id=saga_id_for(booking.booking_id, attempt),
                    booking_id=booking.booking_id,
                    attempt=attempt,
                    kind=SagaKind.CANCEL,
                    step=SagaStep.RETURN_PAYMENT,
                    request_id=request_id,
                    payment_request_id="",
                    payment_token="",
                    payment_id=paid.payment_id,
                    release_seats=True,
                    target_status=None,
                    outcome=SagaOutcome.NONE,
                    failure_reason="",
                    failures=0,
                ),
                lease_owner,
                self.runner.settings.lease,
            )
            await self.store.set_status(
                conn,
                booking.booking_id,
                BookingStatus.CANCELLED,
                cancel_reason=reason,
                sources=[BookingStatus.CONFIRMED],
            )
        log.info("booking_cancelled", booking_id=booking.booking_id, paid=True)
        try:
            return await self.runner.run_detached(saga, lease_owner, booking)
        except SagaPostponed:
            cancelled = await self.store.get(booking.booking_id)
            assert cancelled is not None
            return cancelled
