"""All of the booking service's SQL: bookings, saga rows, tickets and outbox rows.

Every change of a booking's status writes its outbox event in the same transaction, after the
booking row is updated (so the row lock orders one booking's events by `seq`), and is counted in
`farebox_bookings_total` once that transaction commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from booking_service.domain import (
    OPEN_STATUSES,
    Booking,
    BookingStatus,
    Event,
    Limits,
    Money,
    PageCursor,
    Passenger,
    Saga,
    SagaKind,
    SagaOutcome,
    SagaStep,
    Ticket,
    check_pending_limit,
    event_for,
    sources_of,
)
from booking_service.metrics import count_statuses

Row = dict[str, Any]
Conn = AsyncConnection[Any]  # the pool's connections return rows as dicts (common.db.open_pool)
_OPEN = [status.value for status in OPEN_STATUSES]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RELAY_LOCK = 0x46_42_4F_58  # "FBOX": one relay publishes at a time, in seq order
# The statuses bookings entered in the current `BookingStore.transaction()`, counted when it commits.
_entered: ContextVar[list[BookingStatus]] = ContextVar("booking_statuses_entered")


@dataclass(frozen=True)
class OutboxRow:
    """An outbox event waiting to be published."""

    seq: int
    event_id: str
    booking_id: str
    event_type: str
    payload: dict[str, Any]


class LeaseLost(RuntimeError):
    """Another worker took over the saga; this one must stop driving it."""


@dataclass(frozen=True)
class SagaChange:
    """One durable step of a saga, with the booking change and tickets that go with it."""

    step: SagaStep
    payment_id: str | None = None
    outcome: SagaOutcome | None = None
    failure_reason: str | None = None
    failures: int | None = None
    release_seats: bool | None = None
    target_status: BookingStatus | None = None
    booking_status: BookingStatus | None = None
    booking_reason: str = ""
    tickets: Sequence[Ticket] = ()
    delay: timedelta | None = None


class BookingStore:
    """Reads and writes bookings.

    A method without a `conn` runs its own transaction; one with a `conn` runs in the caller's,
    opened with `transaction()`, so several writes commit together.
    """

    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[Conn]:
        """A connection for reads outside a transaction: no BEGIN, no rollback on release."""
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                yield conn
            finally:
                if not conn.closed:
                    await conn.set_autocommit(False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A connection inside one transaction, for the methods below that take `conn`.

        The statuses bookings enter in it are counted once it commits; a rollback counts none.
        """
        entered: list[BookingStatus] = []
        token = _entered.set(entered)
        try:
            async with self.pool.connection() as conn, conn.transaction():
                yield conn
        finally:
            _entered.reset(token)
        count_statuses(entered)

    async def get(self, booking_id: str, owner_id: str | None = None) -> Booking | None:
        """A booking with its tickets; None when missing or, given `owner_id`, owned by someone else."""
        async with self._reading() as conn:
            row = await _one(conn, "SELECT * FROM bookings WHERE booking_id = %s", (booking_id,))
            if row is None or (owner_id is not None and row["owner_id"] != owner_id):
                return None
            return (await _with_tickets(conn, [row]))[0]

    async def list_page(self, owner_id: str, cursor: PageCursor | None, limit: int) -> list[Booking]:
        """Up to `limit` of an owner's bookings, newest first, after `cursor`."""
        query = "SELECT * FROM bookings WHERE owner_id = %s"
        params: list[Any] = [owner_id]
        if cursor is not None:
            query += " AND (create_time, booking_id) < (%s, %s)"
            params += [_EPOCH + timedelta(microseconds=cursor.create_time_us), cursor.booking_id]
        query += " ORDER BY create_time DESC, booking_id DESC LIMIT %s"
        async with self._reading() as conn:
            rows = await (await conn.execute(query, [*params, limit])).fetchall()
            return await _with_tickets(conn, rows)

    async def count_open(self, owner_id: str) -> int:
        """How many of an owner's bookings still hold seats unpaid."""
        async with self._reading() as conn:
            return await _count_open(conn, owner_id)

    async def insert_reservation(self, booking: Booking, limits: Limits) -> tuple[Booking, bool]:
        """Records a pending booking unless it exists; returns it and whether it was created now."""
        async with self.transaction() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('booking-owner:' || %s))", (booking.owner_id,)
            )
            existing = await _one(conn, "SELECT * FROM bookings WHERE booking_id = %s", (booking.booking_id,))
            if existing is not None:
                return booking_from_row(existing), False
            check_pending_limit(await _count_open(conn, booking.owner_id), limits)
            row = await _one(
                conn,
                """
                INSERT INTO bookings (booking_id, owner_id, request_id, trip_id, seat_numbers, from_stop,
                    to_stop, passengers, total_amount_minor, currency_code, status, hold_id, hold_expire_time)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
                """,
                (
                    booking.booking_id, booking.owner_id, booking.request_id, booking.trip_id,
                    list(booking.seat_numbers), booking.from_stop, booking.to_stop,
                    Jsonb([{"full_name": p.full_name, "seat_number": p.seat_number}
                           for p in booking.passengers]),
                    booking.total.amount_minor, booking.total.currency_code, BookingStatus.PENDING.value,
                    booking.hold_id, booking.hold_expire_time,
                ),
            )  # fmt: skip
            assert row is not None
            created = booking_from_row(row)
            await insert_event(conn, event_for(created))
            _count_on_commit(created.status)
            return created, True

    async def lock_for_saga(self, conn: Conn, booking_id: str, owner_id: str) -> Booking | None:
        """The owner's booking, locked until the end of the caller's transaction."""
        row = await _one(conn, "SELECT * FROM bookings WHERE booking_id = %s FOR UPDATE", (booking_id,))
        if row is None or row["owner_id"] != owner_id:
            return None
        return booking_from_row(row)

    async def set_status(
        self,
        conn: Conn,
        booking_id: str,
        status: BookingStatus,
        reason: str = "",
        cancel_reason: str | None = None,
        sources: Sequence[BookingStatus] | None = None,
    ) -> Booking | None:
        """Moves a booking to `status` from `sources` (default: every status allowed to), with its event.

        Returns None when the booking is in none of them.
        """
        row = await _one(
            conn,
            """
            UPDATE bookings SET status = %s, failure_reason = %s,
                cancel_reason = coalesce(%s, cancel_reason), update_time = clock_timestamp()
            WHERE booking_id = %s AND status = ANY(%s) RETURNING *
            """,
            (
                status.value,
                reason,
                cancel_reason,
                booking_id,
                [s.value for s in sources or sources_of(status)],
            ),
        )
        if row is None:
            return None
        booking = booking_from_row(row)
        await insert_event(conn, event_for(booking))
        _count_on_commit(booking.status)
        return booking

    async def sagas_of(self, conn: Conn, booking_id: str) -> list[Saga]:
        """A booking's sagas, newest first."""
        cursor = await conn.execute(
            "SELECT * FROM booking_sagas WHERE booking_id = %s ORDER BY attempt DESC", (booking_id,)
        )
        return [saga_from_row(row) for row in await cursor.fetchall()]

    async def insert_saga(self, conn: Conn, saga: Saga, lease_owner: str, lease: timedelta) -> Saga:
        """Writes a new saga row, leased to `lease_owner`."""
        row = await _one(
            conn,
            """
            INSERT INTO booking_sagas (saga_id, booking_id, attempt, kind, step, request_id,
                payment_request_id, payment_token, payment_id, release_seats, target_status,
                lease_owner, lease_until)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now() + %s) RETURNING *
            """,
            (
                saga.saga_id, saga.booking_id, saga.attempt, saga.kind.value, saga.step.value,
                saga.request_id, saga.payment_request_id, saga.payment_token or None, saga.payment_id,
                saga.release_seats, saga.target_status.value if saga.target_status else None,
                lease_owner, lease,
            ),
        )  # fmt: skip
        assert row is not None
        return saga_from_row(row)

    async def advance(self, saga: Saga, lease_owner: str, lease: timedelta, change: SagaChange) -> Saga:
        """Writes a saga's next step with its booking change; LeaseLost if the saga is not ours."""
        async with self.transaction() as conn:
            row = await _one(
                conn,
                """
                UPDATE booking_sagas SET step = %(step)s,
                    payment_id = coalesce(%(payment_id)s, payment_id),
                    outcome = coalesce(%(outcome)s, outcome),
                    failure_reason = coalesce(%(failure_reason)s, failure_reason),
                    failures = coalesce(%(failures)s, failures),
                    release_seats = coalesce(%(release_seats)s, release_seats),
                    target_status = coalesce(%(target_status)s, target_status),
                    payment_token = CASE WHEN %(step)s = 'DONE' THEN NULL ELSE payment_token END,
                    lease_owner = CASE WHEN %(delay)s::interval IS NULL THEN lease_owner ELSE '' END,
                    lease_until = now() + coalesce(%(delay)s::interval, %(lease)s::interval),
                    update_time = clock_timestamp()
                WHERE saga_id = %(saga_id)s AND lease_owner = %(owner)s AND step = %(current)s
                RETURNING *
                """,
                {
                    "step": change.step.value,
                    "payment_id": change.payment_id,
                    "outcome": change.outcome.value if change.outcome is not None else None,
                    "failure_reason": change.failure_reason,
                    "failures": change.failures,
                    "release_seats": change.release_seats,
                    "target_status": change.target_status.value if change.target_status else None,
                    "delay": change.delay,
                    "lease": lease,
                    "saga_id": saga.saga_id,
                    "owner": lease_owner,
                    "current": saga.step.value,
                },
            )
            if row is None:
                raise LeaseLost(saga.saga_id)
            if change.booking_status is not None:
                await self.set_status(conn, saga.booking_id, change.booking_status, change.booking_reason)
            for ticket in change.tickets:
                await conn.execute(
                    """
                    INSERT INTO booking_tickets (ticket_id, booking_id, seat_number, passenger_name, code)
                    VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ticket_id) DO NOTHING
                    """,
                    (
                        ticket.ticket_id,
                        saga.booking_id,
                        ticket.seat_number,
                        ticket.passenger_name,
                        ticket.code,
                    ),
                )
            return saga_from_row(row)

    async def claim_due(self, lease_owner: str, lease: timedelta, limit: int) -> list[Saga]:
        """Takes over unfinished sagas whose lease has run out (safe in every replica at once)."""
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                """
                UPDATE booking_sagas SET lease_owner = %s, lease_until = now() + %s,
                    update_time = clock_timestamp()
                WHERE saga_id IN (
                    SELECT saga_id FROM booking_sagas WHERE step <> 'DONE' AND lease_until < now()
                    ORDER BY lease_until LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING *
                """,
                (lease_owner, lease, limit),
            )
            return [saga_from_row(row) for row in await cursor.fetchall()]

    async def expire_due(self, limit: int) -> list[Booking]:
        """Marks unpaid bookings past their hold expiry EXPIRED, with their events; returns them."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                """
                UPDATE bookings SET status = 'EXPIRED', failure_reason = 'HOLD_EXPIRED',
                    update_time = clock_timestamp()
                WHERE booking_id IN (
                    SELECT booking_id FROM bookings
                    WHERE status IN ('PENDING', 'PAYMENT_FAILED') AND hold_expire_time < now()
                    ORDER BY hold_expire_time LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING *
                """,
                (limit,),
            )
            expired = [booking_from_row(row) for row in await cursor.fetchall()]
            for booking in expired:
                await insert_event(conn, event_for(booking))
                _count_on_commit(booking.status)
            return expired

    async def publish_pending(self, publish: Callable[[list[OutboxRow]], Awaitable[None]], limit: int) -> int:
        """Hands the oldest unpublished events to `publish` and marks them published once it returns.

        Runs under a transaction-scoped advisory lock, so replicas take turns and events leave in
        `seq` order; a crash after `publish` publishes them again (at least once).
        """
        async with self.transaction() as conn:
            locked = await _one(conn, "SELECT pg_try_advisory_xact_lock(%s) AS ok", (_RELAY_LOCK,))
            if locked is None or not locked["ok"]:
                return 0
            cursor = await conn.execute(
                """
                SELECT seq, event_id, booking_id, event_type, payload FROM booking_outbox
                WHERE publish_time IS NULL ORDER BY seq LIMIT %s
                """,
                (limit,),
            )
            rows = [OutboxRow(**row) for row in await cursor.fetchall()]
            if not rows:
                return 0
            await publish(rows)
            await conn.execute(
                "UPDATE booking_outbox SET publish_time = clock_timestamp() WHERE seq = ANY(%s)",
                ([row.seq for row in rows],),
            )
            return len(rows)

    async def outbox_lag(self) -> timedelta:
        """How long the oldest unpublished event has waited; zero when every event is published."""
        async with self._reading() as conn:
            row = await _one(
                conn,
                """
                SELECT greatest(clock_timestamp() - create_time, interval '0') AS lag FROM booking_outbox
                WHERE publish_time IS NULL ORDER BY seq LIMIT 1
                """,
                (),
            )
        return row["lag"] if row is not None else timedelta(0)


def _count_on_commit(status: BookingStatus) -> None:
    """Notes that a booking entered `status` in the current `BookingStore.transaction()`."""
    _entered.get().append(status)


async def insert_event(conn: Conn, event: Event) -> None:
    """Writes an event to the outbox in the caller's transaction."""
    await conn.execute(
        "INSERT INTO booking_outbox (event_id, booking_id, event_type, payload) VALUES (%s, %s, %s, %s)",
        (event.event_id, event.booking_id, event.event_type, Jsonb(event.payload)),
    )


async def _one(conn: Conn, query: str, params: Any) -> Row | None:
    cursor = await conn.execute(query, params)
    row: Row | None = await cursor.fetchone()
    return row


async def _count_open(conn: Conn, owner_id: str) -> int:
    row = await _one(
        conn,
        """
        SELECT count(*) AS n FROM bookings
        WHERE owner_id = %s AND status = ANY(%s) AND hold_expire_time > now()
        """,
        (owner_id, _OPEN),
    )
    return int(row["n"]) if row else 0


async def _with_tickets(conn: Conn, rows: Sequence[Row]) -> list[Booking]:
    confirmed = [row["booking_id"] for row in rows if row["status"] == BookingStatus.CONFIRMED.value]
    tickets: dict[str, list[Ticket]] = {}
    if confirmed:
        cursor = await conn.execute(
            "SELECT * FROM booking_tickets WHERE booking_id = ANY(%s) ORDER BY seat_number", (confirmed,)
        )
        for row in await cursor.fetchall():
            tickets.setdefault(row["booking_id"], []).append(
                Ticket(row["ticket_id"], row["seat_number"], row["passenger_name"], row["code"])
            )
    return [booking_from_row(row, tickets.get(row["booking_id"], ())) for row in rows]


def booking_from_row(row: Row, tickets: Sequence[Ticket] = ()) -> Booking:
    """A booking from its row."""
    passengers = row["passengers"]
    return Booking(
        booking_id=row["booking_id"],
        owner_id=row["owner_id"],
        request_id=row["request_id"],
        trip_id=row["trip_id"],
        seat_numbers=tuple(row["seat_numbers"]),
        from_stop=row["from_stop"],
        to_stop=row["to_stop"],
        passengers=tuple(Passenger(p["full_name"], p["seat_number"]) for p in passengers),
        total=Money(int(row["total_amount_minor"]), row["currency_code"]),
        status=BookingStatus(row["status"]),
        hold_id=row["hold_id"],
        hold_expire_time=row["hold_expire_time"],
        failure_reason=row["failure_reason"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        tickets=tuple(tickets),
    )


def saga_from_row(row: Row) -> Saga:
    """A saga from its row."""
    return Saga(
        saga_id=row["saga_id"],
        booking_id=row["booking_id"],
        attempt=row["attempt"],
        kind=SagaKind(row["kind"]),
        step=SagaStep(row["step"]),
        request_id=row["request_id"],
        payment_request_id=row["payment_request_id"],
        payment_token=row["payment_token"] or "",
        payment_id=row["payment_id"],
        release_seats=row["release_seats"],
        target_status=BookingStatus(row["target_status"]) if row["target_status"] else None,
        outcome=SagaOutcome(row["outcome"]),
        failure_reason=row["failure_reason"],
        failures=row["failures"],
    )


def cursor_of(booking: Booking) -> PageCursor:
    """The page cursor just after `booking`."""
    return PageCursor(_micros(booking.create_time), booking.booking_id)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)
