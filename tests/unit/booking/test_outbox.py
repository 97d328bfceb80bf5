"""Outbox to Redis stream: every event at least once, in order per booking, handled once by id."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
from redis.asyncio import Redis

from booking_service.domain import BookingStatus, Limits
from booking_service.outbox import BookingEvent, EventConsumer, OutboxRelay
from booking_service.store import BookingStore
from tests.unit.booking.harness import new_id, pending_booking

ROOMY = Limits(max_pending_per_user=100, max_seats_per_booking=6)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def make_history(store: BookingStore, bookings: int) -> dict[str, list[str]]:
    """Bookings that each went PENDING -> CONFIRMING -> PAYMENT_FAILED -> CANCELLED; their event types."""
    owner = new_id("owner")
    expected: dict[str, list[str]] = {}
    for _ in range(bookings):
        booking, _ = await store.insert_reservation(pending_booking(owner), ROOMY)
        for status in (BookingStatus.CONFIRMING, BookingStatus.PAYMENT_FAILED, BookingStatus.CANCELLED):
            async with store.transaction() as conn:
                await store.set_status(conn, booking.booking_id, status)
        expected[booking.booking_id] = [
            "booking.pending",
            "booking.confirming",
            "booking.payment_failed",
            "booking.cancelled",
        ]
    return expected


async def drain(consumer: EventConsumer, handler) -> int:  # type: ignore[no-untyped-def]
    read = 0
    while batch := await consumer.consume(handler, block_ms=50):
        read += batch
    return read


async def test_concurrent_relays_deliver_every_event_in_order_per_booking(
    store: BookingStore, redis: Redis
) -> None:
    stream = new_id("events")
    expected = await make_history(store, 10)
    relays = [OutboxRelay(store, redis, stream, max_length=100_000, batch=7) for _ in range(3)]
    await asyncio.gather(*(relay.relay_once() for relay in relays))
    while await relays[0].relay_once():  # whatever a relay skipped while another held the lock
        pass

    consumer = EventConsumer(redis, stream, "notifications", "c1")
    await consumer.join()
    seen: dict[str, list[BookingEvent]] = defaultdict(list)

    async def handle(event: BookingEvent) -> None:
        seen[event.booking_id].append(event)

    await drain(consumer, handle)
    for booking_id, types in expected.items():
        assert [event.event_type for event in seen[booking_id]] == types
        assert [event.seq for event in seen[booking_id]] == sorted(event.seq for event in seen[booking_id])
    assert seen[next(iter(expected))][0].payload["status"] == "PENDING"


async def test_a_republished_event_is_handled_once(
    store: BookingStore, redis: Redis, db: psycopg.AsyncConnection
) -> None:
    stream = new_id("events")
    expected = await make_history(store, 2)
    relay = OutboxRelay(store, redis, stream, max_length=100_000)
    first = await relay.relay_once()
    assert first >= 8
    # As if the relay crashed after XADD and before marking the rows published.
    await db.execute(
        "UPDATE booking_outbox SET publish_time = NULL WHERE booking_id = ANY(%s)", (list(expected),)
    )
    assert await relay.relay_once() == 8

    consumer = EventConsumer(redis, stream, "analytics", "c1")
    await consumer.join()
    handled: list[str] = []

    async def handle(event: BookingEvent) -> None:
        handled.append(event.event_id)

    read = await drain(consumer, handle)
    assert read == first + 8
    assert len(handled) == len(set(handled)) == first
    assert await redis.xlen(stream) == first + 8


async def test_a_failing_handler_gets_the_event_again(store: BookingStore, redis: Redis) -> None:
    stream = new_id("events")
    await make_history(store, 1)
    published = await OutboxRelay(store, redis, stream, max_length=100_000).relay_once()
    consumer = EventConsumer(redis, stream, "mailer", "c1")
    await consumer.join()

    async def broken(event: BookingEvent) -> None:
        raise RuntimeError("mail server down")

    with pytest.raises(RuntimeError):
        await consumer.consume(broken, block_ms=50)
    assert (await redis.xpending(stream, "mailer"))["pending"] >= 1

    handled: list[str] = []

    async def handle(event: BookingEvent) -> None:
        handled.append(event.event_id)

    await drain(consumer, handle)  # the same consumer, as a long-running process keeps it
    assert len(set(handled)) == published
    assert (await redis.xpending(stream, "mailer"))["pending"] == 0


async def test_events_a_dead_consumer_left_unacknowledged_are_taken_over(
    store: BookingStore, redis: Redis
) -> None:
    stream = new_id("events")
    await make_history(store, 1)
    published = await OutboxRelay(store, redis, stream, max_length=100_000).relay_once()
    dead = EventConsumer(redis, stream, "mailer", "pod-a")
    await dead.join()

    async def crash(event: BookingEvent) -> None:
        raise RuntimeError("killed mid-batch")

    with pytest.raises(RuntimeError):
        await dead.consume(crash, block_ms=50)  # pod-a is never seen again
    assert (await redis.xpending(stream, "mailer"))["pending"] == published

    survivor = EventConsumer(redis, stream, "mailer", "pod-b", abandoned_after=timedelta(milliseconds=200))
    handled: list[str] = []

    async def handle(event: BookingEvent) -> None:
        handled.append(event.event_id)

    await asyncio.sleep(0.3)
    await drain(survivor, handle)
    assert len(set(handled)) == published
    assert (await redis.xpending(stream, "mailer"))["pending"] == 0


async def test_a_poison_event_goes_to_the_dead_letter_stream_and_the_rest_flow(
    store: BookingStore, redis: Redis
) -> None:
    stream = new_id("events")
    await make_history(store, 2)
    published = await OutboxRelay(store, redis, stream, max_length=100_000).relay_once()
    consumer = EventConsumer(redis, stream, "mailer", "c1", max_deliveries=3)
    await consumer.join()
    first = (await redis.xrange(stream, count=1))[0][1][b"event_id"].decode()
    handled: list[str] = []

    async def handle(event: BookingEvent) -> None:
        if event.event_id == first:
            raise ValueError("this event can never be sent")
        handled.append(event.event_id)

    for _ in range(2):  # the first two failures leave it to be read again
        with pytest.raises(ValueError):
            await consumer.consume(handle, block_ms=50)
    await drain(consumer, handle)  # the third failure dead-letters it; the rest flow

    dead = await redis.xrange(f"{stream}:dead")
    assert [fields[b"event_id"].decode() for _id, fields in dead] == [first]
    assert b"never be sent" in dead[0][1][b"error"]
    assert len(set(handled)) == published - 1 and first not in handled
    assert (await redis.xpending(stream, "mailer"))["pending"] == 0
