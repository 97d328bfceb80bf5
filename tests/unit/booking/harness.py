"""Settings and wiring for booking tests on the session's real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from booking_service.cancellation import Cancellations
from booking_service.clients import PaymentClient, SeatClient, open_channels
from booking_service.domain import (
    Booking,
    BookingStatus,
    Limits,
    Money,
    Passenger,
    ReservationRequest,
    booking_id_for,
)
from booking_service.reservations import Reservations
from booking_service.saga import SagaRunner
from booking_service.settings import BookingSettings
from booking_service.store import BookingStore
from booking_service.tickets import TicketSigner
from common.migrations import migrate_service
from common.settings import Env

TICKET_SEED = bytes(range(32))
TICKET_KEY = base64.urlsafe_b64encode(TICKET_SEED).decode().rstrip("=")

# Fast pacing for tests: short leases and retry delays so recovery runs within a test.
FAST = {
    "BOOKING_SAGA_LEASE": "2s",
    "BOOKING_SAGA_IN_DOUBT_GRACE": "50ms",
    "BOOKING_SAGA_RETRY_BASE": "10ms",
    "BOOKING_SAGA_RETRY_MAX": "50ms",
    "BOOKING_SAGA_MAX_CAPTURE_FAILURES": "3",
    "BOOKING_RECOVERY_INTERVAL": "100ms",
    "BOOKING_SWEEP_INTERVAL": "100ms",
    "BOOKING_RELAY_INTERVAL": "50ms",
    "BOOKING_SEAT_BREAKER_FAIL_MAX": "3",
    "BOOKING_PAYMENT_BREAKER_FAIL_MAX": "3",
    "BOOKING_SEAT_BREAKER_RESET": "300ms",
    "BOOKING_PAYMENT_BREAKER_RESET": "300ms",
    "BOOKING_SEAT_TIMEOUT": "3s",
    "BOOKING_PAYMENT_TIMEOUT": "3s",
}


async def migrate_booking(database_url: str) -> None:
    """Applies the idempotency and booking migrations (idempotent)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate_service(conn, "booking", "booking_service")


def booking_settings(database_url: str, redis_url: str, target: str, **overrides: str) -> BookingSettings:
    """Plaintext settings on port 0 with both downstreams at `target`, fast pacing, and any overrides."""
    env = {
        "FAREBOX_INSECURE_DEV": "true",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BOOKING_PORT": "0",
        "SEAT_TARGET": target,
        "PAYMENT_TARGET": target,
        "BOOKING_TICKET_KEY": TICKET_KEY,
        **FAST,
        **overrides,
    }
    return BookingSettings.from_env(Env(env))


@dataclass
class Parts:
    """The booking service's pieces, wired to the given downstreams."""

    store: BookingStore
    seat: SeatClient
    payment: PaymentClient
    runner: SagaRunner
    reservations: Reservations
    cancellations: Cancellations
    signer: TicketSigner

    async def close(self) -> None:
        await self.runner.drain()
        await self.seat.channels.close()
        await self.payment.channels.close()


def wire(store: BookingStore, settings: BookingSettings) -> Parts:
    """Builds the pieces the way server.py does, without a gRPC server."""
    seat = SeatClient(open_channels(settings.seat, settings.platform.security.tls), settings.seat)
    payment = PaymentClient(open_channels(settings.payment, settings.platform.security.tls), settings.payment)
    signer = TicketSigner(settings.ticket_key)
    runner = SagaRunner(store, seat, payment, signer, settings.saga)
    limits = Limits(settings.max_pending_per_user, settings.max_seats_per_booking)
    return Parts(
        store=store,
        seat=seat,
        payment=payment,
        runner=runner,
        reservations=Reservations(store, seat, limits, settings.hold_ttl),
        cancellations=Cancellations(store, seat, runner, settings.cancellation_cutoff),
        signer=signer,
    )


def new_id(prefix: str) -> str:
    """An id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def reservation(
    owner_id: str, trip_id: str, seats: tuple[str, ...] = ("1A",), request_id: str | None = None
) -> ReservationRequest:
    """A reservation of `seats` from AMS to BER, one passenger per seat."""
    return ReservationRequest(
        owner_id=owner_id,
        request_id=request_id or new_id("req"),
        trip_id=trip_id,
        seat_numbers=seats,
        from_stop="AMS",
        to_stop="BER",
        passengers=tuple(Passenger(f"Passenger {seat}", seat) for seat in seats),
    )


def pending_booking(owner_id: str, expires_in: timedelta = timedelta(minutes=10), seats: int = 1) -> Booking:
    """A pending booking to insert straight into the store."""
    request = reservation(owner_id, new_id("trip"), tuple(f"{n}A" for n in range(1, seats + 1)))
    now = datetime.now(UTC)
    return Booking(
        booking_id=booking_id_for(owner_id, request.request_id),
        owner_id=owner_id,
        request_id=request.request_id,
        trip_id=request.trip_id,
        seat_numbers=request.seat_numbers,
        from_stop=request.from_stop,
        to_stop=request.to_stop,
        passengers=request.passengers,
        total=Money(1250 * seats, "EUR"),
        status=BookingStatus.PENDING,
        hold_id=new_id("hold"),
        hold_expire_time=now + expires_in,
        failure_reason="",
        create_time=now,
        update_time=now,
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Polls `check()` until it is true; fails with TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)
