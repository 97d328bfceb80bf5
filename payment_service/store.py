"""The payment ledger in PostgreSQL: `payments` with running amounts, `payment_events` append-only.

Changes to an existing payment happen under its row lock (`PaymentStore.locked`), so concurrent
captures, voids and refunds of one payment run one after another; the table's CHECK constraints
refuse any state the rules forbid even if a bug let one through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from common.errors import Aborted, DeadlineExceeded, NotFound, Unavailable
from payment_service.domain import (
    DeclineReason,
    EventType,
    Money,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Transition,
)


@dataclass(frozen=True)
class NewPayment:
    """An authorization's outcome, to be recorded as a new payment."""

    payment_id: str
    caller_scope: str
    authorization_request_id: str
    booking_reference: str
    amount: Money
    decline_reason: DeclineReason | None
    provider: str
    provider_reference: str


_SELECT_PAYMENT = "SELECT * FROM payments WHERE payment_id = %s"
_SELECT_BY_KEY = "SELECT * FROM payments WHERE caller_scope = %s AND authorization_request_id = %s"
_SELECT_EVENTS = """
SELECT type, amount_minor, provider_reference, created_at FROM payment_events
WHERE payment_id = %s ORDER BY event_id
"""
_INSERT_PAYMENT = """
INSERT INTO payments (payment_id, caller_scope, authorization_request_id, booking_reference, status, currency,
                      requested_minor, authorized_minor, decline_reason, provider, provider_reference)
VALUES (%(payment_id)s, %(caller_scope)s, %(request_id)s, %(booking_reference)s, %(status)s,
        %(currency)s, %(requested)s, %(authorized)s, %(decline_reason)s, %(provider)s, %(reference)s)
ON CONFLICT (caller_scope, authorization_request_id) DO NOTHING
RETURNING payment_id
"""
_INSERT_EVENT = """
INSERT INTO payment_events (payment_id, type, amount_minor, provider_reference, request_id, reason)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_UPDATE_AMOUNTS = """
UPDATE payments SET status = %(status)s, captured_minor = %(captured)s, refunded_minor = %(refunded)s,
                    updated_at = now()
WHERE payment_id = %(payment_id)s
  AND status = %(was_status)s AND captured_minor = %(was_captured)s AND refunded_minor = %(was_refunded)s
"""
_EVENT_SEEN = "SELECT 1 FROM payment_events WHERE payment_id = %s AND type = %s AND request_id = %s"


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turns lock timeouts and lost connections into retryable domain errors."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as error:
        raise DeadlineExceeded("the payment is busy with another change", reason="PAYMENT_BUSY") from error
    except psycopg.OperationalError as error:
        raise Unavailable("the payment ledger is unreachable", reason="DATABASE_UNAVAILABLE") from error


async def _load(conn: AsyncConnection[Any], row: dict[str, Any] | None) -> Payment | None:
    if row is None:
        return None
    events = await (await conn.execute(_SELECT_EVENTS, (row["payment_id"],))).fetchall()
    return Payment(
        payment_id=row["payment_id"],
        booking_reference=row["booking_reference"],
        status=PaymentStatus(row["status"]),
        currency=row["currency"],
        requested_minor=row["requested_minor"],
        authorized_minor=row["authorized_minor"],
        captured_minor=row["captured_minor"],
        refunded_minor=row["refunded_minor"],
        decline_reason=None if row["decline_reason"] is None else DeclineReason(row["decline_reason"]),
        provider_reference=row["provider_reference"],
        authorization_request_id=row["authorization_request_id"],
        events=tuple(
            PaymentEvent(
                type=EventType(event["type"]),
                amount_minor=event["amount_minor"],
                provider_reference=event["provider_reference"],
                create_time=event["created_at"],
            )
            for event in events
        ),
        create_time=row["created_at"],
        update_time=row["updated_at"],
    )


async def _fetch(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> Payment | None:
    return await _load(conn, await (await conn.execute(query, params)).fetchone())


class LockedPayment:
    """A payment whose row is locked for the rest of the transaction."""

    def __init__(self, conn: AsyncConnection[Any], payment: Payment) -> None:
        self._conn = conn
        self.payment = payment

    async def already_applied(self, event: EventType, request_id: str) -> bool:
        """Whether the ledger already records this change under this request_id."""
        with _database_errors():
            cursor = await self._conn.execute(_EVENT_SEEN, (self.payment.payment_id, event.value, request_id))
            return await cursor.fetchone() is not None

    async def apply(
        self, transition: Transition, provider_reference: str, request_id: str, reason: str = ""
    ) -> Payment:
        """Records the transition and its ledger entry; returns the payment as it now is."""
        before = self.payment
        with _database_errors():
            updated = await self._conn.execute(
                _UPDATE_AMOUNTS,
                {
                    "payment_id": before.payment_id,
                    "status": transition.status.value,
                    "captured": transition.captured_minor,
                    "refunded": transition.refunded_minor,
                    "was_status": before.status.value,
                    "was_captured": before.captured_minor,
                    "was_refunded": before.refunded_minor,
                },
            )
            if updated.rowcount != 1:
                raise Aborted("the payment changed concurrently", reason="PAYMENT_CHANGED")
            await self._conn.execute(
                _INSERT_EVENT,
                (
                    before.payment_id,
                    transition.event.value,
                    transition.amount_minor,
                    provider_reference,
                    request_id,
                    reason,
                ),
            )
            after = await _fetch(self._conn, _SELECT_PAYMENT, (before.payment_id,))
        assert after is not None
        self.payment = after
        return after


class PaymentStore:
    """Reads and writes payments and their ledger."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, payment_id: str) -> Payment | None:
        """The payment with this id, or None."""
        with _database_errors():
            async with self._pool.connection() as conn:
                return await _fetch(conn, _SELECT_PAYMENT, (payment_id,))

    async def find_by_authorization(self, caller_scope: str, request_id: str) -> Payment | None:
        """The payment the caller authorized with this request_id, or None."""
        with _database_errors():
            async with self._pool.connection() as conn:
                return await _fetch(conn, _SELECT_BY_KEY, (caller_scope, request_id))

    async def insert(self, new: NewPayment) -> Payment:
        """Records an authorized or declined payment; an existing one under the same key wins."""
        declined = new.decline_reason is not None
        params = {
            "payment_id": new.payment_id,
            "caller_scope": new.caller_scope,
            "request_id": new.authorization_request_id,
            "booking_reference": new.booking_reference,
            "status": (PaymentStatus.DECLINED if declined else PaymentStatus.AUTHORIZED).value,
            "currency": new.amount.currency,
            "requested": new.amount.amount_minor,
            "authorized": 0 if declined else new.amount.amount_minor,
            "decline_reason": None if new.decline_reason is None else new.decline_reason.value,
            "provider": new.provider,
            "reference": new.provider_reference,
        }
        event = EventType.DECLINED if declined else EventType.AUTHORIZED
        with _database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                if await (await conn.execute(_INSERT_PAYMENT, params)).fetchone() is not None:
                    await conn.execute(
                        _INSERT_EVENT,
                        (
                            new.payment_id,
                            event.value,
                            params["authorized"],
                            new.provider_reference,
                            new.authorization_request_id,
                            "",
                        ),
                    )
                payment = await _fetch(conn, _SELECT_BY_KEY, (new.caller_scope, new.authorization_request_id))
        assert payment is not None
        return payment

    @asynccontextmanager
    async def locked(self, payment_id: str, lock_timeout_s: float | None) -> AsyncIterator[LockedPayment]:
        """Locks the payment's row for a change; waits for the lock at most `lock_timeout_s`."""
        with _database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                if lock_timeout_s is not None:
                    milliseconds = max(1, int(lock_timeout_s * 1000))
                    await conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{milliseconds}ms",))
                payment = await _fetch(conn, _SELECT_PAYMENT + " FOR UPDATE", (payment_id,))
                if payment is None:
                    raise NotFound(
                        f"payment {payment_id} does not exist", metadata={"payment_id": payment_id}
                    )
                yield LockedPayment(conn, payment)
