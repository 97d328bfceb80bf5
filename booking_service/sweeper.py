"""Expires unpaid bookings past their hold expiry and releases their holds.

Safe in every replica at once: each booking is claimed by one `UPDATE ... SKIP LOCKED`, and its
EXPIRED event is written in that transaction. Releasing the hold afterwards is idempotent; if it
fails, the seat service expires the hold by itself.
"""

from __future__ import annotations

import asyncio

import structlog

from booking_service.clients import SeatClient
from booking_service.domain import Booking, step_request_id
from booking_service.store import BookingStore
from common.errors import FareboxError

log = structlog.get_logger()


class Sweeper:
    """Turns PENDING and PAYMENT_FAILED bookings past their hold expiry into EXPIRED ones."""

    def __init__(self, store: BookingStore, seat: SeatClient, batch: int = 100) -> None:
        self.store = store
        self.seat = seat
        self.batch = batch

    async def sweep_once(self) -> int:
        """Expires every booking due now; returns how many."""
        total = 0
        while True:
            expired = await self.store.expire_due(self.batch)
            total += len(expired)
            await asyncio.gather(*(self._release(booking) for booking in expired))
            if len(expired) < self.batch:
                if total:
                    log.info("bookings_expired", count=total)
                return total

    async def _release(self, booking: Booking) -> None:
        try:
            await self.seat.release_hold(
                booking.hold_id, step_request_id(booking.booking_id, "expire-release")
            )
        except FareboxError as error:
            log.warning("expired_hold_release_failed", booking_id=booking.booking_id, reason=error.reason)
