"""The confirm saga and its compensations, on the real PostgreSQL with fake seat and payment services."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from farebox.payment.v1 import payment_pb2
from farebox.seat.v1 import seat_pb2

from booking_service.domain import Booking, BookingStatus, SagaOutcome, SagaStep
from booking_service.recovery import Recovery
from booking_service.saga import retry_delay
from booking_service.tickets import verify_ticket_code
from common import errors
from tests.unit.booking.fakes import FakeDownstreams
from tests.unit.booking.harness import Parts, eventually, new_id, reservation

Status = payment_pb2.PaymentStatus


async def reserved(parts: Parts, fakes: FakeDownstreams, seats: tuple[str, ...] = ("1A",)) -> Booking:
    trip_id = new_id("trip")
    fakes.seats.add_trip(trip_id)
    return await parts.reservations.reserve(reservation(new_id("owner"), trip_id, seats))


async def confirm(
    parts: Parts, booking: Booking, token: str = "tok_success", request_id: str = ""
) -> Booking:
    return await parts.runner.confirm(
        booking.owner_id, booking.booking_id, token, request_id or new_id("req")
    )


async def sagas(db: psycopg.AsyncConnection, booking_id: str) -> list[tuple[str, str]]:
    cursor = await db.execute(
        "SELECT step, outcome FROM booking_sagas WHERE booking_id = %s ORDER BY attempt", (booking_id,)
    )
    return [tuple(row) for row in await cursor.fetchall()]  # type: ignore[misc]


async def events(db: psycopg.AsyncConnection, booking_id: str) -> list[str]:
    cursor = await db.execute(
        "SELECT event_type FROM booking_outbox WHERE booking_id = %s ORDER BY seq", (booking_id,)
    )
    return [row[0] for row in await cursor.fetchall()]


async def test_happy_path_sells_the_seats_captures_and_issues_tickets(parts, fakes, db) -> None:
    booking = await reserved(parts, fakes, seats=("1A", "1B"))
    confirmed = await confirm(parts, booking)
    assert confirmed.status is BookingStatus.CONFIRMED
    assert [verify_ticket_code(t.code, parts.signer.public_key).seat_number for t in confirmed.tickets] == [
        "1A", "1B"]  # fmt: skip
    assert fakes.seats.holds[booking.hold_id].hold.state == seat_pb2.HOLD_STATE_COMMITTED
    [payment] = fakes.payments.for_booking(booking.booking_id)
    assert payment.status == Status.PAYMENT_STATUS_CAPTURED
    assert payment.captured_amount.amount_minor == booking.total.amount_minor == 2500
    assert await events(db, booking.booking_id) == [
        "booking.pending",
        "booking.confirming",
        "booking.confirmed",
    ]
    assert await sagas(db, booking.booking_id) == [("DONE", "CONFIRMED")]


async def test_a_decline_keeps_the_hold_for_a_retry_with_another_card(parts, fakes) -> None:
    booking = await reserved(parts, fakes)
    declined = await confirm(parts, booking, token="tok_declined")
    assert (declined.status, declined.failure_reason) == (BookingStatus.PAYMENT_FAILED, "INSUFFICIENT_FUNDS")
    assert fakes.seats.holds[booking.hold_id].hold.state == seat_pb2.HOLD_STATE_ACTIVE
    confirmed = await confirm(parts, booking)
    assert confirmed.status is BookingStatus.CONFIRMED
    statuses = sorted(p.status for p in fakes.payments.for_booking(booking.booking_id))
    assert statuses == [Status.PAYMENT_STATUS_DECLINED, Status.PAYMENT_STATUS_CAPTURED]


async def test_confirming_again_with_the_same_request_charges_once(parts, fakes) -> None:
    booking = await reserved(parts, fakes)
    first = await confirm(parts, booking, request_id="same")
    second = await confirm(parts, booking, request_id="same")
    assert first == second
    assert fakes.payments.script.count("AuthorizePayment") == 1


async def test_concurrent_duplicates_run_one_saga(parts, fakes) -> None:
    booking = await reserved(parts, fakes)

    async def client() -> Booking:
        while True:
            try:
                return await confirm(parts, booking, request_id="dup")
            except errors.Aborted as error:
                assert error.reason == "CONFIRMATION_IN_PROGRESS"
                await asyncio.sleep(0.01)

    results = await asyncio.gather(*(client() for _ in range(5)))
    assert {r.status for r in results} == {BookingStatus.CONFIRMED}
    assert fakes.payments.script.count("AuthorizePayment") == 1
    assert fakes.payments.script.count("CapturePayment") == 1


async def test_an_expired_booking_is_not_charged(parts, fakes, db) -> None:
    booking = await reserved(parts, fakes)
    await db.execute(
        "UPDATE bookings SET hold_expire_time = now() - interval '1 second' WHERE booking_id = %s",
        (booking.booking_id,),
    )
    with pytest.raises(errors.FailedPrecondition) as caught:
        await confirm(parts, booking)
    assert caught.value.reason == "HOLD_EXPIRED"
    assert fakes.payments.script.count("AuthorizePayment") == 0


async def test_a_hold_lost_before_the_commit_voids_the_authorization(parts, fakes, db) -> None:
    booking = await reserved(parts, fakes)
    fakes.seats.expire(booking.hold_id)  # the seat service saw the hold expire first
    result = await confirm(parts, booking)
    assert (result.status, result.failure_reason) == (BookingStatus.EXPIRED, "HOLD_EXPIRED")
    [payment] = fakes.payments.for_booking(booking.booking_id)
    assert payment.status == Status.PAYMENT_STATUS_VOIDED
    assert await sagas(db, booking.booking_id) == [("DONE", "COMPENSATED")]


async def test_a_capture_failing_for_now_is_finished_by_recovery(parts, fakes) -> None:
    booking = await reserved(parts, fakes)
    fakes.payments.script.fail("CapturePayment", times=3)  # enough to open the payment breaker
    with pytest.raises(errors.Unavailable):
        await confirm(parts, booking)
    assert (await parts.store.get(booking.booking_id)).status is BookingStatus.CONFIRMING
    recovery = Recovery(parts.store, parts.runner)

    async def confirmed() -> bool:
        await recovery.run_once()
        return (await parts.store.get(booking.booking_id)).status is BookingStatus.CONFIRMED

    await eventually(confirmed)
    [payment] = fakes.payments.for_booking(booking.booking_id)
    assert payment.status == Status.PAYMENT_STATUS_CAPTURED


async def test_a_capture_refused_for_good_returns_money_and_seats(parts, fakes, db) -> None:
    booking = await reserved(parts, fakes)
    refused = lambda: errors.FailedPrecondition("authorization expired", reason="AUTHORIZATION_EXPIRED")  # noqa: E731
    fakes.payments.script.fail("CapturePayment", failure=refused)
    result = await confirm(parts, booking)
    assert (result.status, result.failure_reason) == (BookingStatus.CANCELLED, "CAPTURE_FAILED")
    [payment] = fakes.payments.for_booking(booking.booking_id)
    assert payment.status == Status.PAYMENT_STATUS_VOIDED
    assert not fakes.seats.sold  # the committed seats went back to stock
    assert fakes.seats.script.count("ReleaseSeats") == 1
    assert await sagas(db, booking.booking_id) == [("DONE", "COMPENSATED")]


async def test_an_authorization_of_unknown_outcome_is_voided_later(parts, fakes, db) -> None:
    booking = await reserved(parts, fakes)
    fakes.payments.script.lose_response("AuthorizePayment", times=10)  # authorized, every answer lost
    with pytest.raises(errors.Unavailable) as caught:
        await confirm(parts, booking)
    assert caught.value.reason == "PAYMENT_UNAVAILABLE"
    pending = await parts.store.get(booking.booking_id)
    assert pending.status is BookingStatus.PENDING  # the traveller may try again
    fakes.payments.script.after_effect.clear()
    parts.payment.downstream.breaker.close()

    recovery = Recovery(parts.store, parts.runner)

    async def resolved() -> bool:
        await recovery.run_once()
        return (await sagas(db, booking.booking_id))[0][0] == SagaStep.DONE

    await eventually(resolved)
    [voided] = fakes.payments.for_booking(booking.booking_id)
    assert voided.status == Status.PAYMENT_STATUS_VOIDED
    confirmed = await confirm(parts, booking)
    assert confirmed.status is BookingStatus.CONFIRMED
    assert await sagas(db, booking.booking_id) == [("DONE", "COMPENSATED"), ("DONE", "CONFIRMED")]


async def crash_after_authorize(parts: Parts, fakes: FakeDownstreams, db, authorized: bool) -> Booking:
    """A saga whose process died after sending the authorization, with its lease run out."""
    booking = await reserved(parts, fakes)
    _, saga = await parts.runner._begin(booking.owner_id, booking.booking_id, "tok_success", "r", "dead")
    assert saga is not None
    if authorized:
        await parts.payment.authorize(
            booking_reference=booking.booking_id,
            amount_minor=booking.total.amount_minor,
            currency_code="EUR",
            token="tok_success",
            request_id=saga.payment_request_id,
        )
    await db.execute(
        "UPDATE booking_sagas SET lease_until = now() - interval '1 second' WHERE saga_id = %s",
        (saga.saga_id,),
    )
    return booking


async def test_recovery_finishes_a_saga_that_crashed_after_authorizing(parts, fakes, db) -> None:
    booking = await crash_after_authorize(parts, fakes, db, authorized=True)
    await Recovery(parts.store, parts.runner).run_once()
    recovered = await parts.store.get(booking.booking_id)
    assert recovered.status is BookingStatus.CONFIRMED and len(recovered.tickets) == 1
    assert fakes.payments.script.count("AuthorizePayment") == 1  # found by its key, not authorized again
    assert [p.status for p in fakes.payments.for_booking(booking.booking_id)] == [
        Status.PAYMENT_STATUS_CAPTURED
    ]


async def test_recovery_reopens_a_booking_whose_authorization_never_arrived(parts, fakes, db) -> None:
    booking = await crash_after_authorize(parts, fakes, db, authorized=False)
    await Recovery(parts.store, parts.runner).run_once()
    reopened = await parts.store.get(booking.booking_id)
    assert (reopened.status, reopened.failure_reason) == (BookingStatus.PENDING, "CONFIRMATION_INTERRUPTED")
    assert await sagas(db, booking.booking_id) == [("DONE", SagaOutcome.ABANDONED.value)]
    retried = await confirm(parts, booking, request_id="r")  # the interrupted request, sent again
    assert retried.status is BookingStatus.CONFIRMED


async def test_cancelling_a_paid_booking_refunds_and_returns_the_seats(parts, fakes, db) -> None:
    booking = await confirm(parts, await reserved(parts, fakes))
    cancelled = await parts.cancellations.cancel(booking.owner_id, booking.booking_id, "plans changed", "c1")
    assert cancelled.status is BookingStatus.CANCELLED and cancelled.tickets == ()
    [payment] = fakes.payments.for_booking(booking.booking_id)
    assert payment.status == Status.PAYMENT_STATUS_REFUNDED
    assert not fakes.seats.sold
    again = await parts.cancellations.cancel(booking.owner_id, booking.booking_id, "plans changed", "c2")
    assert again.status is BookingStatus.CANCELLED
    assert fakes.payments.script.count("RefundPayment") == 1
    assert (await events(db, booking.booking_id))[-1] == "booking.cancelled"


async def test_no_refund_after_the_cutoff(parts, fakes) -> None:
    booking = await confirm(parts, await reserved(parts, fakes))
    fakes.seats.departures[booking.trip_id] = datetime.now(UTC) + timedelta(minutes=30)
    with pytest.raises(errors.FailedPrecondition) as caught:
        await parts.cancellations.cancel(booking.owner_id, booking.booking_id, "", "c1")
    assert caught.value.reason == "CANCELLATION_CUTOFF_PASSED"
    assert (await parts.store.get(booking.booking_id)).status is BookingStatus.CONFIRMED


async def test_cancelling_an_unpaid_booking_releases_its_hold(parts, fakes) -> None:
    booking = await reserved(parts, fakes)
    cancelled = await parts.cancellations.cancel(booking.owner_id, booking.booking_id, "", "c1")
    assert cancelled.status is BookingStatus.CANCELLED
    assert fakes.seats.holds[booking.hold_id].hold.state == seat_pb2.HOLD_STATE_RELEASED
    with pytest.raises(errors.FailedPrecondition) as caught:
        await confirm(parts, booking)
    assert caught.value.reason == "BOOKING_CANCELLED"


@pytest.mark.parametrize(("failures", "seconds"), [(0, 1), (1, 2), (5, 32), (6, 60), (53, 60), (10_000, 60)])
def test_a_step_failing_for_ever_backs_off_to_the_maximum(failures: int, seconds: int) -> None:
    assert retry_delay(failures, timedelta(seconds=1), timedelta(seconds=60)) == timedelta(seconds=seconds)
