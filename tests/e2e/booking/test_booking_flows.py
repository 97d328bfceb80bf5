"""Booking end to end over real processes and real PostgreSQL/Redis, each flow checked by `farebox audit`."""

from __future__ import annotations

import asyncio
import urllib.request

import grpc
import psycopg
import pytest
from farebox.booking.v1 import booking_pb2
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from redis.asyncio import Redis

from booking_service.outbox import BookingEvent, EventConsumer
from booking_service.tickets import TicketSigner, verify_ticket_code
from common import errors
from tests.e2e.booking.conftest import Traveller, new_trip, public_channel, signed_in
from tests.e2e.booking.stack import ServiceProcess, Stack
from tests.unit.booking.harness import TICKET_SEED, eventually, new_id

PUBLIC_KEY = TicketSigner(TICKET_SEED).public_key


async def payments_of(stack: Stack, booking_id: str) -> list[tuple[str, int, int]]:
    """(status, captured, refunded) of every payment for the booking, from the payment store."""
    async with await psycopg.AsyncConnection.connect(stack.database_url) as conn:
        cursor = await conn.execute(
            "SELECT status, captured_minor, refunded_minor FROM payments WHERE booking_reference = %s",
            (booking_id,),
        )
        return [tuple(row) for row in await cursor.fetchall()]  # type: ignore[misc]


async def assert_audit_passes(stack: Stack) -> dict[str, object]:
    code, report = await asyncio.to_thread(stack.audit)
    assert code == 0, report
    assert report["oversold_seat_segments"] == 0
    return report


async def error_of(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    info = errors.error_info(caught.value)
    return caught.value.code(), info.reason if info else ""


async def test_happy_path(stack: Stack, traveller: Traveller, redis_url: str) -> None:
    trip_id = await new_trip(stack)
    reserved = await traveller.reserve(trip_id, ("3A", "3B"))
    assert reserved.status == booking_pb2.BOOKING_STATUS_PENDING
    assert reserved.total_price.amount_minor == 2 * 3000  # the seat service's through fare, twice
    confirmed = await traveller.confirm(reserved.booking_id)
    assert confirmed.status == booking_pb2.BOOKING_STATUS_CONFIRMED
    claims = [verify_ticket_code(ticket.code, PUBLIC_KEY) for ticket in confirmed.tickets]
    assert [(c.seat_number, c.trip_id, c.booking_id) for c in claims] == [
        ("3A", trip_id, reserved.booking_id), ("3B", trip_id, reserved.booking_id)]  # fmt: skip
    assert await traveller.get(reserved.booking_id) == confirmed
    assert await payments_of(stack, reserved.booking_id) == [("CAPTURED", 6000, 0)]
    report = await assert_audit_passes(stack)
    assert report["confirmed_bookings"] >= 1

    redis = Redis.from_url(redis_url)
    consumer = EventConsumer(redis, stack.events_stream, new_id("group"), "e2e")
    await consumer.join()
    delivered: list[BookingEvent] = []

    async def handle(event: BookingEvent) -> None:
        if event.booking_id == reserved.booking_id:
            delivered.append(event)

    async def all_delivered() -> bool:
        await consumer.consume(handle, block_ms=100)
        return len(delivered) >= 3

    await eventually(all_delivered)
    await redis.aclose()
    assert [e.event_type for e in delivered] == ["booking.pending", "booking.confirming", "booking.confirmed"]


async def test_decline_then_retry_with_a_good_card(stack: Stack, traveller: Traveller) -> None:
    booking = await traveller.reserve(await new_trip(stack))
    declined = await traveller.confirm(booking.booking_id, token="tok_insufficient_funds")
    assert declined.status == booking_pb2.BOOKING_STATUS_PAYMENT_FAILED
    assert declined.failure_reason == "INSUFFICIENT_FUNDS"
    confirmed = await traveller.confirm(booking.booking_id, token="tok_success")
    assert confirmed.status == booking_pb2.BOOKING_STATUS_CONFIRMED
    assert sorted(await payments_of(stack, booking.booking_id)) == [("CAPTURED", 3000, 0), ("DECLINED", 0, 0)]
    await assert_audit_passes(stack)


async def test_hold_expired_before_payment(stack: Stack, traveller: Traveller) -> None:
    short = stack.booking_process("booking-short-holds", BOOKING_HOLD_TTL="1s")
    await asyncio.to_thread(short.start)
    try:
        async with public_channel(stack, short) as channel:
            hurried = traveller.on(BookingServiceStub(channel))
            trip_id = await new_trip(stack)
            booking = await hurried.reserve(trip_id, ("4C",))

            async def expired() -> bool:
                return (await hurried.get(booking.booking_id)).status == booking_pb2.BOOKING_STATUS_EXPIRED

            await eventually(expired)  # the sweeper expired it and released the hold
            code, reason = await error_of(hurried.confirm(booking.booking_id))
            assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")
        assert await payments_of(stack, booking.booking_id) == []  # never charged
        other = await signed_in(stack, traveller.stub, new_id("next")).reserve(trip_id, ("4C",))
        assert other.status == booking_pb2.BOOKING_STATUS_PENDING  # the seat went back to stock
    finally:
        await asyncio.to_thread(short.stop)
    await assert_audit_passes(stack)


async def test_provider_down_then_back(stack: Stack, traveller: Traveller) -> None:
    booking = await traveller.reserve(await new_trip(stack))
    reasons = []
    for _ in range(3):  # the provider fails every authorization: the breakers open
        code, reason = await error_of(traveller.confirm(booking.booking_id, token="tok_processing_error"))
        assert code == grpc.StatusCode.UNAVAILABLE
        reasons.append(reason)
        assert (await traveller.get(booking.booking_id)).status == booking_pb2.BOOKING_STATUS_PENDING
    assert set(reasons) == {"PAYMENT_UNAVAILABLE"}

    async def confirmed() -> bool:
        try:
            result = await traveller.confirm(booking.booking_id, token="tok_success")
        except grpc.aio.AioRpcError as error:
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED), error
            await asyncio.sleep(0.3)
            return False
        return result.status == booking_pb2.BOOKING_STATUS_CONFIRMED

    await eventually(confirmed, within=30)  # once the breakers let calls through again
    captured = [p for p in await payments_of(stack, booking.booking_id) if p[0] == "CAPTURED"]
    assert captured == [("CAPTURED", 3000, 0)]
    await assert_audit_passes(stack)


async def test_duplicate_confirm_charges_once_and_answers_the_same(
    stack: Stack, traveller: Traveller
) -> None:
    booking = await traveller.reserve(await new_trip(stack))

    async def client() -> booking_pb2.Booking:
        while True:
            try:
                return await traveller.confirm(booking.booking_id, request_id="one-request")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.ABORTED, error
                await asyncio.sleep(0.05)

    answers = await asyncio.gather(*(client() for _ in range(5)))
    again = await traveller.confirm(booking.booking_id, request_id="one-request")
    assert all(answer == answers[0] for answer in [*answers, again])
    assert answers[0].status == booking_pb2.BOOKING_STATUS_CONFIRMED
    assert await payments_of(stack, booking.booking_id) == [("CAPTURED", 3000, 0)]
    await assert_audit_passes(stack)


async def test_cancelling_a_confirmed_booking_refunds_it(stack: Stack, traveller: Traveller) -> None:
    booking = await traveller.reserve(await new_trip(stack), ("5A",))
    await traveller.confirm(booking.booking_id)
    cancelled = await traveller.cancel(booking.booking_id)
    assert cancelled.status == booking_pb2.BOOKING_STATUS_CANCELLED
    assert await payments_of(stack, booking.booking_id) == [("REFUNDED", 3000, 3000)]
    await assert_audit_passes(stack)


def metrics_of(process: ServiceProcess) -> str:
    """The text of a process's /metrics endpoint (its port is in its `metrics_server_started` line)."""
    [started] = process.events("metrics_server_started")
    with urllib.request.urlopen(f"http://127.0.0.1:{started['port']}/metrics", timeout=5) as response:
        return str(response.read().decode())


async def test_the_notification_consumer_notifies_once_per_event_and_stops_on_sigterm(
    stack: Stack, traveller: Traveller, redis_url: str
) -> None:
    consumer = stack.consumer_process(new_id("notifications"))
    await asyncio.to_thread(consumer.start)
    try:
        booking = await traveller.reserve(await new_trip(stack), ("5B",))
        await traveller.confirm(booking.booking_id)

        def notifications() -> list[str]:
            sent = consumer.events("notification_sent")
            return [event["event_type"] for event in sent if event["booking_id"] == booking.booking_id]

        async def notified() -> bool:
            return len(notifications()) >= 3

        await eventually(notified)
        assert "process_cpu_seconds_total" in await asyncio.to_thread(metrics_of, consumer)
        assert "process_cpu_seconds_total" in await asyncio.to_thread(metrics_of, stack.relay)
    finally:
        await asyncio.to_thread(consumer.stop)
    assert notifications() == ["booking.pending", "booking.confirming", "booking.confirmed"]
    assert consumer.wait_exit() == 0
    assert consumer.events("consumer_stopped")
    redis = Redis.from_url(redis_url)
    pending = await redis.xpending(stack.events_stream, "notifications")
    await redis.aclose()
    assert pending["pending"] == 0  # every event it handled was acknowledged
