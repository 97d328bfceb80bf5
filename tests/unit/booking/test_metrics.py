"""The booking service's domain metrics, read back from prometheus_client's default registry."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import psycopg
import pybreaker
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from booking_service.domain import Booking, BookingStatus, Limits
from booking_service.outbox import OutboxRelay
from booking_service.store import BookingStore
from common import errors
from common.domain_metrics import BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN
from tests.unit.booking.fakes import FakeDownstreams, status_error
from tests.unit.booking.harness import Parts, new_id, pending_booking, reservation

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
STEP_COUNT = "farebox_saga_step_duration_seconds_count"
COMPENSATIONS = "farebox_saga_compensations_total"
ROOMY = Limits(max_pending_per_user=100, max_seats_per_booking=6)


def snapshot() -> Samples:
    """Every sample of the default registry now."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
    }


def value(name: str, **labels: str) -> float | None:
    """One sample's value now; None before its series exists."""
    return REGISTRY.get_sample_value(name, labels)


def increase(before: Samples, name: str, **labels: str) -> float:
    """How much a sample grew since `before`."""
    return (value(name, **labels) or 0.0) - before.get((name, frozenset(labels.items())), 0.0)


def bookings_entered(before: Samples) -> dict[str, float]:
    """How many bookings entered each status since `before`."""
    statuses = [status.value.lower() for status in BookingStatus]
    return {status: increase(before, "farebox_bookings_total", status=status) for status in statuses}


def steps_taken(before: Samples, outcome: str) -> dict[str, float]:
    """The saga steps (and the seat hold) timed since `before` with `outcome`, and how many times."""
    names = ["hold_seats", "authorize_payment", "commit_hold", "capture_payment", "resolve",
             "return_payment", "release_seats"]  # fmt: skip
    taken = {name: increase(before, STEP_COUNT, step=name, outcome=outcome) for name in names}
    return {name: count for name, count in taken.items() if count}


async def reserved(parts: Parts, fakes: FakeDownstreams) -> Booking:
    trip_id = new_id("trip")
    fakes.seats.add_trip(trip_id)
    return await parts.reservations.reserve(reservation(new_id("owner"), trip_id))


async def confirm(parts: Parts, booking: Booking, token: str = "tok_success") -> Booking:
    return await parts.runner.confirm(booking.owner_id, booking.booking_id, token, new_id("req"))


async def test_a_confirmed_booking_counts_its_statuses_and_times_its_steps(
    parts: Parts, fakes: FakeDownstreams
) -> None:
    before = snapshot()
    booking = await reserved(parts, fakes)
    assert (await confirm(parts, booking)).status is BookingStatus.CONFIRMED
    assert bookings_entered(before) == {
        "pending": 1, "confirming": 1, "confirmed": 1,
        "payment_failed": 0, "cancelled": 0, "expired": 0,
    }  # fmt: skip
    assert steps_taken(before, "succeeded") == {
        "hold_seats": 1, "authorize_payment": 1, "commit_hold": 1, "capture_payment": 1}  # fmt: skip
    assert steps_taken(before, "failed") == {}
    assert increase(before, COMPENSATIONS, step="void_payment", outcome="succeeded") == 0


async def test_a_decline_counts_payment_failed(parts: Parts, fakes: FakeDownstreams) -> None:
    before = snapshot()
    booking = await reserved(parts, fakes)
    assert (await confirm(parts, booking, token="tok_declined")).status is BookingStatus.PAYMENT_FAILED
    entered = bookings_entered(before)
    assert (entered["confirming"], entered["payment_failed"], entered["confirmed"]) == (1, 1, 0)


async def test_a_status_change_counts_only_once_committed(store: BookingStore) -> None:
    booking, _ = await store.insert_reservation(pending_booking(new_id("owner")), ROOMY)
    before = snapshot()
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            assert await store.set_status(conn, booking.booking_id, BookingStatus.CANCELLED) is not None
            raise RuntimeError("rolled back")
    assert increase(before, "farebox_bookings_total", status="cancelled") == 0
    async with store.transaction() as conn:
        await store.set_status(conn, booking.booking_id, BookingStatus.CANCELLED)
    assert increase(before, "farebox_bookings_total", status="cancelled") == 1


async def test_expired_bookings_are_counted(store: BookingStore) -> None:
    late = pending_booking(new_id("owner"), expires_in=timedelta(seconds=-1))
    await store.insert_reservation(late, ROOMY)
    before = snapshot()
    expired = await store.expire_due(limit=1_000)
    assert late.booking_id in {booking.booking_id for booking in expired}
    assert increase(before, "farebox_bookings_total", status="expired") == len(expired)


async def test_a_step_that_must_wait_is_timed_as_failed(parts: Parts, fakes: FakeDownstreams) -> None:
    booking = await reserved(parts, fakes)
    fakes.payments.script.fail("AuthorizePayment", times=100)
    before = snapshot()
    with pytest.raises(errors.Unavailable):
        await confirm(parts, booking)
    assert steps_taken(before, "failed") == {"authorize_payment": 1}
    assert steps_taken(before, "succeeded") == {}


async def test_compensations_are_counted_by_step(parts: Parts, fakes: FakeDownstreams) -> None:
    lost = await reserved(parts, fakes)
    fakes.seats.expire(lost.hold_id)  # the commit is refused: the authorization is voided
    before = snapshot()
    assert (await confirm(parts, lost)).status is BookingStatus.EXPIRED
    assert increase(before, COMPENSATIONS, step="void_payment", outcome="succeeded") == 1
    assert increase(before, COMPENSATIONS, step="release_seats", outcome="succeeded") == 0

    refused = await reserved(parts, fakes)
    fakes.payments.script.fail("CapturePayment", failure=status_error(grpc.StatusCode.FAILED_PRECONDITION))
    before = snapshot()
    assert (await confirm(parts, refused)).status is BookingStatus.CANCELLED
    assert increase(before, COMPENSATIONS, step="void_payment", outcome="succeeded") == 1
    assert increase(before, COMPENSATIONS, step="release_seats", outcome="succeeded") == 1


async def test_a_failing_compensation_is_counted_as_failed(parts: Parts, fakes: FakeDownstreams) -> None:
    booking = await reserved(parts, fakes)
    fakes.seats.expire(booking.hold_id)
    fakes.payments.script.fail("VoidPayment", failure=status_error(grpc.StatusCode.FAILED_PRECONDITION))
    before = snapshot()
    with pytest.raises(errors.Unavailable):
        await confirm(parts, booking)
    assert increase(before, COMPENSATIONS, step="void_payment", outcome="failed") == 1
    assert increase(before, COMPENSATIONS, step="void_payment", outcome="succeeded") == 0


async def test_a_cancellation_refund_is_no_compensation(parts: Parts, fakes: FakeDownstreams) -> None:
    booking = await confirm(parts, await reserved(parts, fakes))
    before = snapshot()
    cancelled = await parts.cancellations.cancel(booking.owner_id, booking.booking_id, "plans changed", "c1")
    assert cancelled.status is BookingStatus.CANCELLED
    assert increase(before, "farebox_bookings_total", status="cancelled") == 1
    assert steps_taken(before, "succeeded") == {"return_payment": 1, "release_seats": 1}
    assert increase(before, COMPENSATIONS, step="refund_payment", outcome="succeeded") == 0


async def test_retries_are_counted_per_downstream_and_method(parts: Parts, fakes: FakeDownstreams) -> None:
    before = snapshot()
    fakes.payments.script.fail("AuthorizePayment", times=2)
    assert (await confirm(parts, await reserved(parts, fakes))).status is BookingStatus.CONFIRMED
    assert increase(before, "farebox_retries_total", downstream="payment", method="AuthorizePayment") == 2
    assert increase(before, "farebox_retries_total", downstream="payment", method="CapturePayment") == 0
    assert increase(before, "farebox_retries_total", downstream="seat", method="HoldSeats") == 0


async def test_the_breaker_gauge_follows_each_state(parts: Parts, fakes: FakeDownstreams) -> None:
    def state(downstream: str) -> float | None:
        return value("farebox_circuit_breaker_state", downstream=downstream)

    breaker = parts.payment.downstream.breaker
    assert (state("payment"), state("seat")) == (BREAKER_CLOSED, BREAKER_CLOSED)
    fakes.payments.script.fail("GetPayment", times=100)
    with pytest.raises(errors.Unavailable):
        await parts.payment.get_by_id("p1")
    assert breaker.current_state == pybreaker.STATE_OPEN
    assert (state("payment"), state("seat")) == (BREAKER_OPEN, BREAKER_CLOSED)
    breaker.half_open()
    assert state("payment") == BREAKER_HALF_OPEN
    fakes.payments.script.failures["GetPayment"].clear()
    with pytest.raises(errors.NotFound):
        await parts.payment.get_by_id("p1")
    assert state("payment") == BREAKER_CLOSED


async def test_the_relay_publishes_the_outbox_lag(
    store: BookingStore, db: psycopg.AsyncConnection, redis_url: str
) -> None:
    def lag() -> float | None:
        return value("farebox_outbox_lag_seconds", outbox="booking")

    redis = Redis.from_url(redis_url)
    try:
        relay = OutboxRelay(store, redis, f"events-{uuid.uuid4().hex}", max_length=10_000)
        await relay.relay_once()  # earlier tests' events: the one below is then the oldest waiting
        booking, _ = await store.insert_reservation(pending_booking(new_id("owner")), ROOMY)
        await db.execute(
            "UPDATE booking_outbox SET create_time = now() - interval '1 hour' WHERE booking_id = %s",
            (booking.booking_id,),
        )
        assert await relay.relay_once() == 1
        assert (lag() or 0.0) >= 3600
        assert await relay.relay_once() == 0
        assert lag() == 0.0
    finally:
        await redis.aclose()
