"""The booking store against the real PostgreSQL: idempotent inserts, limits, paging, sweeps, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest

from booking_service.domain import (
    BookingStatus,
    Limits,
    Saga,
    SagaKind,
    SagaOutcome,
    SagaStep,
    payment_request_id_for,
    saga_id_for,
)
from booking_service.store import BookingStore, LeaseLost, SagaChange, cursor_of
from common.errors import FailedPrecondition
from tests.unit.booking.harness import new_id, pending_booking

LIMITS = Limits(max_pending_per_user=3, max_seats_per_booking=6)


async def events_of(db: psycopg.AsyncConnection, booking_id: str) -> list[str]:
    cursor = await db.execute(
        "SELECT event_type FROM booking_outbox WHERE booking_id = %s ORDER BY seq", (booking_id,)
    )
    return [row[0] for row in await cursor.fetchall()]


async def test_a_repeated_insert_returns_the_first_booking(store: BookingStore, db) -> None:
    booking = pending_booking(new_id("owner"))
    first, created = await store.insert_reservation(booking, LIMITS)
    again, created_again = await store.insert_reservation(booking, LIMITS)
    assert (created, created_again) == (True, False)
    assert again == first
    assert await events_of(db, booking.booking_id) == ["booking.pending"]


async def test_the_pending_limit_holds_under_concurrency(store: BookingStore, db) -> None:
    owner = new_id("owner")
    results = await asyncio.gather(
        *(store.insert_reservation(pending_booking(owner), LIMITS) for _ in range(10)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, FailedPrecondition)]
    assert len(refused) == 7 and {r.reason for r in refused} == {"TOO_MANY_PENDING_BOOKINGS"}
    row = await (await db.execute("SELECT count(*) FROM bookings WHERE owner_id = %s", (owner,))).fetchone()
    assert row == (3,)


async def test_expired_holds_do_not_count_against_the_limit(store: BookingStore) -> None:
    owner = new_id("owner")
    for _ in range(3):
        await store.insert_reservation(pending_booking(owner, expires_in=timedelta(seconds=-1)), LIMITS)
    assert await store.count_open(owner) == 0
    await store.insert_reservation(pending_booking(owner), LIMITS)


async def test_pages_are_newest_first_and_cover_everything_once(store: BookingStore) -> None:
    owner = new_id("owner")
    roomy = Limits(max_pending_per_user=100, max_seats_per_booking=6)
    made = [(await store.insert_reservation(pending_booking(owner), roomy))[0] for _ in range(7)]
    seen, cursor = [], None
    while True:
        page = await store.list_page(owner, cursor, 3)
        seen += page
        if len(page) < 3:
            break
        cursor = cursor_of(page[-1])
    assert [b.booking_id for b in seen] == [b.booking_id for b in reversed(made)]
    assert await store.list_page(new_id("stranger"), None, 10) == []


async def test_concurrent_sweepers_expire_each_booking_once(store: BookingStore, db) -> None:
    owner = new_id("owner")
    roomy = Limits(max_pending_per_user=100, max_seats_per_booking=6)
    due = [pending_booking(owner, expires_in=timedelta(seconds=-5)) for _ in range(30)]
    for booking in due:
        await store.insert_reservation(booking, roomy)
    live, _ = await store.insert_reservation(pending_booking(owner), roomy)

    async def sweep() -> list[str]:
        expired: list[str] = []
        while batch := await store.expire_due(4):
            expired += [b.booking_id for b in batch if b.owner_id == owner]
        return expired

    swept = await asyncio.gather(*(sweep() for _ in range(4)))
    everything = [booking_id for result in swept for booking_id in result]
    assert sorted(everything) == sorted(b.booking_id for b in due)
    for booking in due:
        assert await events_of(db, booking.booking_id) == ["booking.pending", "booking.expired"]
    assert (await store.get(live.booking_id)).status is BookingStatus.PENDING


def saga_for(booking_id: str) -> Saga:
    return Saga(
        saga_id=saga_id_for(booking_id, 1),
        booking_id=booking_id,
        attempt=1,
        kind=SagaKind.CONFIRM,
        step=SagaStep.AUTHORIZE,
        request_id="r",
        payment_request_id=payment_request_id_for(booking_id, 1),
        payment_token="tok_success",
        payment_id="",
        release_seats=False,
        target_status=None,
        outcome=SagaOutcome.NONE,
        failure_reason="",
        failures=0,
    )


async def test_only_the_lease_holder_advances_a_saga(store: BookingStore) -> None:
    booking, _ = await store.insert_reservation(pending_booking(new_id("owner")), LIMITS)
    async with store.transaction() as conn:
        saga = await store.insert_saga(conn, saga_for(booking.booking_id), "me", timedelta(minutes=1))
    with pytest.raises(LeaseLost):
        await store.advance(saga, "someone-else", timedelta(minutes=1), SagaChange(step=SagaStep.COMMIT_HOLD))
    moved = await store.advance(saga, "me", timedelta(minutes=1), SagaChange(step=SagaStep.COMMIT_HOLD))
    assert moved.step is SagaStep.COMMIT_HOLD
    with pytest.raises(LeaseLost):  # a stale copy of the saga cannot repeat the step
        await store.advance(saga, "me", timedelta(minutes=1), SagaChange(step=SagaStep.COMMIT_HOLD))


async def test_finished_sagas_forget_the_card_token(store: BookingStore, db) -> None:
    booking, _ = await store.insert_reservation(pending_booking(new_id("owner")), LIMITS)
    async with store.transaction() as conn:
        saga = await store.insert_saga(conn, saga_for(booking.booking_id), "me", timedelta(minutes=1))
    await store.advance(saga, "me", timedelta(minutes=1), SagaChange(step=SagaStep.DONE))
    row = await (
        await db.execute("SELECT payment_token FROM booking_sagas WHERE saga_id = %s", (saga.saga_id,))
    ).fetchone()
    assert row == (None,)


async def test_concurrent_recoveries_claim_disjoint_sagas(store: BookingStore) -> None:
    ids = []
    for _ in range(12):
        booking, _ = await store.insert_reservation(pending_booking(new_id("owner")), LIMITS)
        async with store.transaction() as conn:
            saga = await store.insert_saga(conn, saga_for(booking.booking_id), "dead", timedelta(seconds=-1))
        ids.append(saga.saga_id)
    claims = await asyncio.gather(
        *(store.claim_due(f"worker-{n}", timedelta(minutes=1), 100) for n in range(3))
    )
    claimed = [saga.saga_id for claim in claims for saga in claim if saga.saga_id in ids]
    assert sorted(claimed) == sorted(ids)
    late = await store.claim_due("late", timedelta(minutes=1), 100)
    assert not {saga.saga_id for saga in late} & set(ids)
