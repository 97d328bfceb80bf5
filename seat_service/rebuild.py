"""Rebuilds a trip's seat index from PostgreSQL: on start, when the index is lost, and after a failed update.

A rebuild locks the trip row (FOR NO KEY UPDATE), which waits for every hold transaction that
share-locked it, reads the active holds and sales, loads them into Redis under a new epoch and
records that epoch in the row before unlocking. A hold claimed in an older epoch can then no longer
be written (see `store.insert_holds`), so it is claimed again instead of being lost. Concurrent
callers in one process share one rebuild; other processes wait on the row lock and find it done.

Every load but a new trip's first is counted in `farebox_redis_rebuilds_total` by reason: `startup`
(the indexes loaded when a process starts), `missing` (an index Redis lost, found on use) and
`drift` (an index repaired after an update to it failed).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from common.domain_metrics import domain_metrics
from common.errors import NotFound, Unavailable
from seat_service import store
from seat_service.domain import Clock
from seat_service.outages import POSTGRES_OUTAGES, REDIS_OUTAGES, postgres_guard, redis_guard
from seat_service.redis_index import SeatIndex

log = structlog.get_logger()

STARTUP = "startup"
MISSING = "missing"
DRIFT = "drift"


class IndexBuilder:
    """Keeps each trip's seat index loaded and current."""

    def __init__(self, pool: AsyncConnectionPool[Any], index: SeatIndex, clock: Clock) -> None:
        self._pool = pool
        self._index = index
        self._clock = clock
        self._running: dict[str, asyncio.Future[str]] = {}
        self.dirty: set[str] = set()

    async def ensure(self, trip_id: str, reason: str | None = MISSING) -> str:
        """Loads the trip's index unless Redis already holds the generation PostgreSQL recorded.

        A load is counted as a rebuild for `reason`; None for a new trip's first load.
        """
        running = self._running.get(trip_id)
        if running is None:
            running = asyncio.ensure_future(self._ensure(trip_id, reason))
            self._running[trip_id] = running
            running.add_done_callback(lambda done: self._forget(trip_id, done))
        return await asyncio.shield(running)

    def _forget(self, trip_id: str, done: asyncio.Future[str]) -> None:
        if self._running.get(trip_id) is done:
            del self._running[trip_id]
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody awaited is not reported as lost

    async def _ensure(self, trip_id: str, reason: str | None) -> str:
        epoch = uuid.uuid4().hex
        loaded = False
        try:
            async with postgres_guard(), redis_guard():
                async with self._pool.connection() as conn, conn.transaction():
                    exists, recorded = await store.lock_index_epoch(conn, trip_id)
                    if not exists:
                        raise NotFound(f"trip {trip_id} does not exist", metadata={"trip_id": trip_id})
                    current = await self._index.epoch(trip_id)
                    if current is not None and current == recorded:
                        return current
                    snapshot = await store.index_snapshot(conn, trip_id, self._clock())
                    loaded = True
                    await self._index.load(snapshot, epoch)
                    await store.set_index_epoch(conn, trip_id, epoch)
        except BaseException:
            if loaded:
                await self._forget_epoch(trip_id)
            raise
        if reason is not None:
            domain_metrics().redis_rebuilds.labels(reason=reason).inc()
        log.info(
            "seat_index_rebuilt",
            trip_id=trip_id,
            reason=reason,
            holds=len(snapshot.active_holds),
            sold_seat_segments=len(snapshot.sold),
        )
        return epoch

    async def _forget_epoch(self, trip_id: str) -> None:
        try:
            await self._index.invalidate(trip_id)
        except REDIS_OUTAGES:
            self.dirty.add(trip_id)

    async def rebuild_recent(self, departed_within: timedelta) -> int:
        """Loads the index of every trip departing after now minus the window; returns how many."""
        async with self._pool.connection() as conn:
            trip_ids = await store.trips_departing_after(conn, self._clock() - departed_within)
        loaded = 0
        for trip_id in trip_ids:
            try:
                await self.ensure(trip_id, STARTUP)
            except Unavailable as error:
                log.warning("seat_index_not_loaded", trip_id=trip_id, reason=error.reason)
                continue
            loaded += 1
        return loaded

    async def update(self, trip_id: str, change: Callable[[], Awaitable[bool]]) -> None:
        """Applies a change PostgreSQL already holds to the index; a lost index is rebuilt first.

        If Redis is unreachable the trip is remembered and its index rebuilt by `repair` later, so
        the index never keeps a state PostgreSQL has left.
        """
        try:
            if not await change():
                await self.ensure(trip_id)
                await change()
        except (*REDIS_OUTAGES, *POSTGRES_OUTAGES, Unavailable) as error:
            self.dirty.add(trip_id)
            log.warning("seat_index_update_failed", trip_id=trip_id, error=type(error).__name__)

    async def repair(self) -> int:
        """Rebuilds the index of every trip whose update failed; returns how many were repaired."""
        repaired = 0
        for trip_id in sorted(self.dirty):
            try:
                await self._index.invalidate(trip_id)
                await self.ensure(trip_id, DRIFT)
            except Exception as error:  # noqa: BLE001 - kept for the next round
                log.warning("seat_index_repair_failed", trip_id=trip_id, error=type(error).__name__)
                continue
            self.dirty.discard(trip_id)
            repaired += 1
        return repaired
