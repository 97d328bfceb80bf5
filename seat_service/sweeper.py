"""Expires holds past their expiry in PostgreSQL, frees their claims in Redis and publishes EXPIRED.

Availability never waits for the sweeper (an expired claim is free the moment it expires); the
sweeper keeps the truth tidy and tells watchers. Every replica may sweep at once: each expired row
is claimed by exactly one of them (UPDATE ... FOR UPDATE SKIP LOCKED). Less often, it audits the
truth for seat-segments claimed twice (`farebox_oversold_seat_segments`, which must stay 0) and
counts the active holds (`farebox_seat_holds_active`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from common.domain_metrics import domain_metrics
from seat_service import store
from seat_service.domain import ChangeKind, Clock, Hold, to_ms
from seat_service.outages import POSTGRES_OUTAGES
from seat_service.rebuild import IndexBuilder
from seat_service.redis_index import SeatIndex

log = structlog.get_logger()


RELEASES_PER_CALL = 100


class Sweeper:
    """Periodically expires due holds and repairs trip indexes whose updates failed."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        index: SeatIndex,
        builder: IndexBuilder,
        clock: Clock,
        interval: timedelta,
        audit_interval: timedelta,
        batch: int = 500,
    ) -> None:
        self._pool = pool
        self._index = index
        self._builder = builder
        self._clock = clock
        self._interval = interval
        self._audit_interval = audit_interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> int:
        """Expires every hold due now; returns how many it expired."""
        expired = 0
        while True:
            now = self._clock()
            now_ms = to_ms(now)
            async with self._pool.connection() as conn, conn.transaction():
                holds = await store.expire_holds(conn, now, self._batch)
            for trip_id, trip_holds in _by_trip(holds):
                await self._builder.update(
                    trip_id, partial(self._index.release_many, trip_holds, ChangeKind.EXPIRED, now_ms)
                )
            expired += len(holds)
            if len(holds) < self._batch:
                break
        if expired:
            log.info("holds_expired", holds=expired)
        return expired

    async def audit_once(self) -> int:
        """Publishes the number of seat-segments claimed twice and of active holds; returns the first."""
        now = self._clock()
        async with self._pool.connection() as conn:
            oversold = await store.audit(conn, now)
            active = await store.count_active_holds(conn, now)
        metrics = domain_metrics()
        metrics.oversold_seat_segments.set(oversold)
        metrics.holds_active.set(active)
        if oversold:
            log.error("seat_segments_oversold", seat_segments=oversold)
        return oversold

    def start(self) -> None:
        """Sweeps in the background until `stop`."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stops sweeping."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_audit = loop.time()
        while True:
            await asyncio.sleep(self._interval.total_seconds())
            try:
                await self.sweep_once()
                await self._builder.repair()
                if loop.time() >= next_audit:
                    next_audit = loop.time() + self._audit_interval.total_seconds()
                    await self.audit_once()
            except POSTGRES_OUTAGES as error:
                log.warning("sweep_skipped", error=type(error).__name__)
            except Exception:
                log.exception("sweep_failed")


def _by_trip(holds: list[Hold]) -> list[tuple[str, list[Hold]]]:
    """The holds grouped by trip, at most RELEASES_PER_CALL to a group (one index call each)."""
    trips: dict[str, list[Hold]] = {}
    for hold in holds:
        trips.setdefault(hold.trip_id, []).append(hold)
    return [
        (trip_id, group[start : start + RELEASES_PER_CALL])
        for trip_id, group in trips.items()
        for start in range(0, len(group), RELEASES_PER_CALL)
    ]
