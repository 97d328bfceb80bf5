"""Seat-map streams: a snapshot, then every change, across processes through Redis pub/sub.

Each process subscribes once per watched trip. One pump task per trip reads the trip's channel,
reads the changed seats' current claims once, and offers each watcher the change as its journey
sees it, without ever waiting on a watcher: a watcher whose bounded queue is full has its queue
replaced by a resync marker and gets a fresh snapshot when it reads again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from common.errors import FareboxError, Unavailable
from seat_service.domain import Clock, SeatChange, SeatMap, Span, Trip, seat_state, seat_statuses, to_ms
from seat_service.inventory import SeatInventory
from seat_service.outages import REDIS_OUTAGES, redis_guard, redis_unavailable
from seat_service.redis_index import SeatEvent, SeatIndex, claim_fields, events_channel

log = structlog.get_logger()


class _Resync:
    """Queued instead of the changes a slow watcher missed."""


RESYNC = _Resync()
Item = SeatChange | _Resync | FareboxError


@dataclass(eq=False)
class _Watcher:
    span: Span
    queue: asyncio.Queue[Item]

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(item if isinstance(item, FareboxError) else RESYNC)
            log.info("seat_watcher_resynced", span=[self.span.start, self.span.end])


@dataclass(eq=False)
class _TripFeed:
    """One trip's subscription in this process and the watchers it feeds."""

    trip: Trip
    pubsub: PubSub
    index: SeatIndex
    clock: Clock
    watchers: set[_Watcher] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            async for message in self.pubsub.listen():
                if message["type"] == "subscribe":
                    self.ready.set()
                elif message["type"] == "message":
                    await self._fan_out(SeatEvent.decode(message["data"]))
        except REDIS_OUTAGES as error:
            log.warning("seat_feed_lost", trip_id=self.trip.trip_id, error=type(error).__name__)
            self._fail(redis_unavailable())
        except Exception:
            log.exception("seat_feed_failed", trip_id=self.trip.trip_id)
            self._fail(Unavailable("the seat-map feed failed; watch again", reason="SEAT_FEED_FAILED"))

    def _fail(self, error: FareboxError) -> None:
        self.ready.set()
        for watcher in self.watchers:
            watcher.offer(error)

    async def _fan_out(self, event: SeatEvent) -> None:
        watchers = [watcher for watcher in self.watchers if watcher.span.overlaps(event.span)]
        if not watchers:
            return
        route = self.trip.full_span
        claims = await self.index.claims(self.trip.trip_id, claim_fields(event.seat_numbers, route))
        if claims is None:  # the index is being rebuilt: whatever changed, a snapshot shows it
            for watcher in watchers:
                watcher.offer(RESYNC)
            return
        now_ms = to_ms(self.clock())
        per_seat = len(route.segments)
        changes: dict[Span, SeatChange] = {}
        for watcher in watchers:
            span = watcher.span
            if span not in changes:
                states = {
                    seat: seat_state(claims[i * per_seat + span.start : i * per_seat + span.end], now_ms)
                    for i, seat in enumerate(event.seat_numbers)
                }
                statuses = seat_statuses(self.trip, span, states, event.seat_numbers)
                changes[span] = SeatChange(event.kind, event.span, statuses, self.clock())
            watcher.offer(changes[span])


class WatchHub:
    """Subscribes to each watched trip once per process and fans its changes out to the watchers."""

    def __init__(
        self, redis: Redis, index: SeatIndex, inventory: SeatInventory, clock: Clock, queue_size: int
    ) -> None:
        self._redis = redis
        self._index = index
        self._inventory = inventory
        self._clock = clock
        self._queue_size = queue_size
        self._feeds: dict[str, _TripFeed] = {}
        self._lock = asyncio.Lock()

    async def watch(self, trip: Trip, span: Span) -> AsyncIterator[SeatMap | SeatChange]:
        """The journey's seat map, then each change to it, until the caller stops reading."""
        watcher = _Watcher(span, asyncio.Queue(self._queue_size))
        feed = await self._join(trip, watcher)
        try:
            await feed.ready.wait()
            yield await self._inventory.seat_map(trip, span)
            while True:
                item = await watcher.queue.get()
                if isinstance(item, FareboxError):
                    raise item
                if isinstance(item, _Resync):
                    yield await self._inventory.seat_map(trip, span)
                else:
                    yield item
        finally:
            await self._leave(feed, watcher)

    async def _join(self, trip: Trip, watcher: _Watcher) -> _TripFeed:
        async with self._lock:
            feed = self._feeds.get(trip.trip_id)
            if feed is None or feed.pump is None or feed.pump.done():
                pubsub = self._redis.pubsub()
                async with redis_guard():
                    await pubsub.subscribe(events_channel(trip.trip_id))
                feed = _TripFeed(trip, pubsub, self._index, self._clock)
                feed.pump = asyncio.create_task(feed.run())
                self._feeds[trip.trip_id] = feed
            feed.watchers.add(watcher)
            return feed

    async def _leave(self, feed: _TripFeed, watcher: _Watcher) -> None:
        async with self._lock:
            feed.watchers.discard(watcher)
            if feed.watchers:
                return
            if self._feeds.get(feed.trip.trip_id) is feed:
                del self._feeds[feed.trip.trip_id]
        await _close(feed)

    async def close(self) -> None:
        """Ends every subscription."""
        async with self._lock:
            feeds = list(self._feeds.values())
            self._feeds.clear()
        for feed in feeds:
            await _close(feed)


async def _close(feed: _TripFeed) -> None:
    if feed.pump is not None:
        feed.pump.cancel()
        await asyncio.gather(feed.pump, return_exceptions=True)
    with contextlib.suppress(*REDIS_OUTAGES):
        await feed.pubsub.aclose()  # type: ignore[no-untyped-call]
