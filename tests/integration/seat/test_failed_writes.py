"""A hold whose PostgreSQL write fails is undone in Redis: the caller gets UNAVAILABLE; nothing stays held."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import AsyncConnection

from common.errors import Unavailable
from common.group_commit import GroupCommitter
from seat_service.catalog import TripCatalog
from seat_service.domain import SeatState, Span
from seat_service.inventory import SeatInventory
from seat_service.redis_index import SeatIndex
from seat_service.server import open_app
from seat_service.validation import HoldLimits, validate_hold
from tests.integration.seat.support import FakeClock, RunningSeatService, create_trip, settings_for

T = TypeVar("T")


class _LostConnection(GroupCommitter):
    """A committer whose database connection drops on every write."""

    async def run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    async def run_batched(self, statement: Callable[..., Awaitable[list[T]]], item: object) -> T:
        raise psycopg.OperationalError("server closed the connection unexpectedly")


async def test_a_hold_whose_write_fails_is_undone_in_the_index(
    seat: RunningSeatService, seat_database_url: str, redis_url: str, clock: FakeClock
) -> None:
    app = await open_app(settings_for(seat_database_url, redis_url), clock)
    broken = _LostConnection(app.pool)
    try:
        inventory = SeatInventory(
            pool=app.pool, committer=broken, index=SeatIndex(app.redis), builder=app.builder,
            catalog=TripCatalog(app.pool, clock), clock=clock, max_seats_per_holder=6,
        )  # fmt: skip
        trip = await inventory.catalog.get((await create_trip(seat.stub)).trip_id)
        limits = HoldLimits(timedelta(minutes=10), timedelta(seconds=10), timedelta(minutes=30))
        request = validate_hold(trip, ["5A", "5B"], "A", "D", "holder-x", None, "key-x", limits)

        with pytest.raises(Unavailable) as error:
            await inventory.hold(request)
        assert error.value.reason == "POSTGRES_UNAVAILABLE"

        seat_map = await app.inventory.seat_map(trip, Span(0, 3))
        assert not seat_map.degraded
        assert {s.seat.seat_number: s.state for s in seat_map.seats}["5A"] is SeatState.AVAILABLE
        await app.inventory.hold(request)  # the retry finds nothing half-done and holds for real
    finally:
        await broken.close()
        await app.close()
