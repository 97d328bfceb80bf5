"""Booking events from the outbox to a Redis stream, and a consumer that sees each event once.

The relay publishes with XADD at least once and in order per booking (the outbox's `seq` order),
and before each pass publishes the outbox's lag (the age of its oldest unpublished event).
A consumer reads through a consumer group and dedupes by event id, so a republished event is
handled once; it acknowledges a message only after its handler returned, and takes over the messages
a consumer that died left unacknowledged (XAUTOCLAIM after `abandoned_after`). An event whose handler
has failed `max_deliveries` times goes to the dead-letter stream `<stream>:dead` with the error, and
is acknowledged, so one poison event does not hold back every event behind it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from booking_service.metrics import record_outbox_lag
from booking_service.store import BookingStore, OutboxRow

log = structlog.get_logger()


class OutboxRelay:
    """Moves outbox rows to the stream, a batch at a time."""

    def __init__(
        self, store: BookingStore, redis: Redis, stream: str, max_length: int, batch: int = 200
    ) -> None:
        self.store = store
        self.redis = redis
        self.stream = stream
        self.max_length = max_length
        self.batch = batch

    async def relay_once(self) -> int:
        """Publishes everything unpublished now; returns how many events were published."""
        record_outbox_lag(await self.store.outbox_lag())
        total = 0
        while True:
            published = await self.store.publish_pending(self._publish, self.batch)
            total += published
            if published < self.batch:
                return total

    async def _publish(self, rows: list[OutboxRow]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.xadd(
                    self.stream,
                    {
                        "event_id": row.event_id,
                        "booking_id": row.booking_id,
                        "type": row.event_type,
                        "seq": str(row.seq),
                        "payload": json.dumps(row.payload, separators=(",", ":")),
                    },
                    maxlen=self.max_length,
                    approximate=True,
                )
            await pipe.execute()
        log.debug("events_published", count=len(rows), last_seq=rows[-1].seq)


@dataclass(frozen=True)
class BookingEvent:
    """A booking event as read from the stream."""

    event_id: str
    booking_id: str
    event_type: str
    seq: int
    payload: dict[str, Any]


class EventConsumer:
    """Reads the stream through a consumer group and hands each event id to the handler once."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        seen_for: timedelta = timedelta(days=1),
        abandoned_after: timedelta = timedelta(minutes=1),
        max_deliveries: int = 5,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.seen_for = seen_for
        self.abandoned_after = abandoned_after
        self.max_deliveries = max_deliveries
        self._backlog = True
        self._next_claim = 0.0

    async def join(self) -> None:
        """Creates the consumer group at the start of the stream if it does not exist."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def consume(
        self, handler: Callable[[BookingEvent], Awaitable[None]], count: int = 100, block_ms: int = 1000
    ) -> int:
        """Reads one batch (unacknowledged ones first); returns how many were read, duplicates included.

        A handler that raises leaves its message (and the rest of the batch) unacknowledged; the next
        call reads them again.
        """
        replies: Any = None
        if await self._claim_abandoned(count):
            self._backlog = True
        if self._backlog:  # first the messages this consumer read before but never acknowledged
            replies = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=count)
            self._backlog = any(messages for _stream, messages in replies or ())
        if not self._backlog:
            replies = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
            )
        read = 0
        for _stream, messages in replies or ():
            for message_id, fields in messages:
                read += 1
                event = _event_of(fields)
                seen_key = f"{self.stream}:seen:{self.group}:{event.event_id}"
                if not await self.redis.exists(seen_key):
                    try:
                        await handler(event)
                    except Exception as error:
                        if not await self._dead_lettered(message_id, fields, error):
                            self._backlog = True  # the next call starts with the unacknowledged messages
                            raise
                    else:
                        await self.redis.set(seen_key, 1, ex=self.seen_for)
                await self.redis.xack(self.stream, self.group, message_id)
        return read

    async def _dead_lettered(self, message_id: bytes, fields: dict[bytes, bytes], error: Exception) -> bool:
        """Moves a message that failed `max_deliveries` times to `<stream>:dead`; False if it may retry."""
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=message_id, max=message_id, count=1
        )
        if not pending or int(pending[0]["times_delivered"]) < self.max_deliveries:
            return False
        dead = {**fields, b"group": self.group.encode(), b"error": repr(error).encode()[:1000]}
        await self.redis.xadd(f"{self.stream}:dead", dead)  # type: ignore[arg-type]
        log.error("event_dead_lettered", message_id=message_id.decode(), group=self.group, error=repr(error))
        return True

    async def _claim_abandoned(self, count: int) -> bool:
        """Takes over messages other consumers left unacknowledged for `abandoned_after` (a consumer
        that died mid-batch); looks at most every half of that time. True when it took any."""
        now = time.monotonic()
        if now < self._next_claim:
            return False
        self._next_claim = now + self.abandoned_after.total_seconds() / 2
        idle_ms = int(self.abandoned_after.total_seconds() * 1000)
        claimed = await self.redis.xautoclaim(  # with justid: the ids taken over
            self.stream, self.group, self.consumer, min_idle_time=idle_ms, count=count, justid=True
        )
        if claimed:
            log.info("abandoned_events_claimed", consumer=self.consumer, count=len(claimed))
        return bool(claimed)


def _event_of(fields: dict[bytes, bytes]) -> BookingEvent:
    text = {key.decode(): value.decode() for key, value in fields.items()}
    return BookingEvent(
        event_id=text["event_id"],
        booking_id=text["booking_id"],
        event_type=text["type"],
        seq=int(text["seq"]),
        payload=json.loads(text["payload"]),
    )
