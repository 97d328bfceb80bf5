"""The invariants of the seat inventory, each against real PostgreSQL and Redis.

1. No seat-segment is ever sold twice, even when Redis is bypassed.
2. No seat-segment is held twice at once, under 500 concurrent overlapping holds.
3. Expired holds free their seats by themselves; the sweeper tidies up and says so.
Plus the flash sale at CI size.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import psycopg
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from common.db import open_pool
from common.group_commit import GroupCommitter
from seat_service import store
from seat_service.demo import demo_trip
from seat_service.domain import Hold, HoldState, Money, SeatState, Span, expiry, system_clock
from seat_service.redis_index import claim_field, index_key
from tests.integration.seat.support import (
    FakeClock,
    RunningSeatService,
    create_trip,
    hold_request,
    reason,
    running_service,
    settings_for,
    states,
)

STOP_CODES = ("A", "B", "C", "D")


async def _trip_in_database(pool: AsyncConnectionPool) -> str:
    trip_id = f"race-{uuid.uuid4().hex}"
    async with pool.connection() as conn:
        await store.insert_trip(conn, demo_trip(trip_id), request_hash="test")
        await store.set_index_epoch(conn, trip_id, "bypassed")
    return trip_id


def _hold(trip_id: str, seats: tuple[str, ...], span: Span) -> Hold:
    now = system_clock()
    return Hold(
        hold_id=uuid.uuid4().hex, trip_id=trip_id, seat_numbers=seats, span=span, holder_id=uuid.uuid4().hex,
        state=HoldState.ACTIVE, expire_time=expiry(now, timedelta(minutes=5)), total_price=Money(1, "EUR"),
    )  # fmt: skip


@pytest.fixture
async def second_pool(seat_database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    """Another replica's pool: its commits run in their own transactions."""
    pool = await open_pool(seat_database_url, name="seat-test-2")
    yield pool
    await pool.close()


async def test_two_commits_racing_for_one_seat_segment_sell_it_once(
    pool: AsyncConnectionPool, second_pool: AsyncConnectionPool
) -> None:
    # Redis is bypassed: both holds are written straight to PostgreSQL, overlapping on seat 3A, segment B-C.
    for _ in range(20):
        trip_id = await _trip_in_database(pool)
        first, second = _hold(trip_id, ("3A", "3B"), Span(0, 2)), _hold(trip_id, ("3A",), Span(1, 3))
        async with pool.connection() as conn:
            for hold in (first, second):
                assert (
                    await store.insert_holds(conn, [store.ClaimedHold(hold, "bypassed", system_clock())])
                )[0][1]

        async def commit(on: AsyncConnectionPool, hold: Hold) -> store.CommitResult:
            async with on.connection() as conn, conn.transaction():
                return await store.commit_hold(conn, hold.hold_id, f"bk-{hold.hold_id}", system_clock())

        results = await asyncio.gather(commit(pool, first), commit(second_pool, second))

        assert sorted(result.committed_now for result in results) == [False, True]
        loser = next(result for result in results if not result.committed_now)
        assert loser.seats_lost == ("3A",)
        assert loser.hold is not None and loser.hold.state is HoldState.RELEASED  # it can never sell now
        async with pool.connection() as conn:
            assert await store.audit(conn, system_clock(), trip_id) == 0
            cursor = await conn.execute(
                "SELECT count(*) AS n FROM seat_sales"
                " WHERE trip_id = %s AND seat_number = '3A' AND segment = 1",
                (trip_id,),
            )
            assert (await cursor.fetchone())["n"] == 1


async def test_commits_racing_in_one_group_commit_batch_sell_once(pool: AsyncConnectionPool) -> None:
    trip_id = await _trip_in_database(pool)
    holds = [_hold(trip_id, ("4C",), Span(0, 3)) for _ in range(5)]
    async with pool.connection() as conn:
        for hold in holds:
            await store.insert_holds(conn, [store.ClaimedHold(hold, "bypassed", system_clock())])
    committer = GroupCommitter(pool, flushers=1)
    try:
        results = await asyncio.gather(
            *(
                committer.run(lambda c, h=h: store.commit_hold(c, h.hold_id, "bk", system_clock()))
                for h in holds
            )
        )
    finally:
        await committer.close()
    assert [result.committed_now for result in results].count(True) == 1
    assert all(result.seats_lost == ("4C",) for result in results if not result.committed_now)


async def test_the_database_itself_refuses_a_second_sale(pool: AsyncConnectionPool) -> None:
    trip_id = await _trip_in_database(pool)
    hold = _hold(trip_id, ("5D",), Span(0, 1))
    async with pool.connection() as conn:
        await store.insert_holds(conn, [store.ClaimedHold(hold, "bypassed", system_clock())])
        insert = (
            "INSERT INTO seat_sales (trip_id, seat_number, segment, hold_id, booking_id, sold_at)"
            " VALUES (%s, '5D', 0, %s, 'b', now())"
        )
        await conn.execute(insert, (trip_id, hold.hold_id))
        with pytest.raises(psycopg.errors.UniqueViolation):
            await conn.execute(insert, (trip_id, hold.hold_id))


async def test_500_concurrent_overlapping_holds_never_hold_a_seat_segment_twice(
    seat: RunningSeatService, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    trip = await create_trip(seat.stub, rows=3)  # 12 seats x 3 segments
    numbers = [s.seat_number for s in trip.seats]
    rng = random.Random(7)

    async def attempt() -> seat_pb2.Hold | str:
        start = rng.randrange(0, 3)
        end = rng.randrange(start + 1, 4)
        seats = rng.sample(numbers, rng.randint(1, 3))
        try:
            request = hold_request(trip.trip_id, seats, STOP_CODES[start], STOP_CODES[end])
            return (await seat.stub.HoldSeats(request)).hold
        except grpc.aio.AioRpcError as error:
            return reason(error)

    outcomes = await asyncio.gather(*(attempt() for _ in range(500)))

    holds = [o for o in outcomes if isinstance(o, seat_pb2.Hold)]
    refusals = [o for o in outcomes if isinstance(o, str)]
    assert holds and set(refusals) == {"SEAT_UNAVAILABLE"}
    claimed: set[tuple[str, int]] = set()
    for hold in holds:
        span = range(STOP_CODES.index(hold.from_stop), STOP_CODES.index(hold.to_stop))
        mine = {(seat, segment) for seat in hold.seat_numbers for segment in span}
        assert not mine & claimed, "two acknowledged holds share a seat-segment"
        claimed |= mine
    async with pool.connection() as conn:
        assert await store.audit(conn, clock(), trip.trip_id) == 0
        cursor = await conn.execute(
            "SELECT hold_id FROM seat_holds WHERE trip_id = %s AND state = 'ACTIVE'", (trip.trip_id,)
        )
        durable = {row["hold_id"] for row in await cursor.fetchall()}
    assert durable == {hold.hold_id for hold in holds}  # every acknowledged hold was in PostgreSQL first


async def test_an_expired_hold_frees_its_seats_at_once_without_a_sweeper(
    seat: RunningSeatService, pool: AsyncConnectionPool, redis: Redis, clock: FakeClock
) -> None:
    trip = await create_trip(seat.stub)
    old = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["2C"], "A", "C", ttl_s=60))).hold
    clock.advance(timedelta(seconds=60))

    # The old claim is still in the index and the row is still ACTIVE: nothing cleaned up yet.
    assert await redis.hget(index_key(trip.trip_id), claim_field("2C", 0)) is not None
    async with pool.connection() as conn:
        assert (await store.get_hold(conn, old.hold_id)).state is HoldState.ACTIVE  # type: ignore[union-attr]
    seat_map = await seat.stub.GetSeatMap(
        api.GetSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D")
    )
    assert states(seat_map.seat_map)["2C"] == seat_pb2.SEAT_STATE_AVAILABLE
    new = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["2C"], "B", "D"))).hold
    assert new.state == seat_pb2.HOLD_STATE_ACTIVE
    async with pool.connection() as conn:
        assert await store.audit(conn, clock(), trip.trip_id) == 0
        assert (await store.seat_states(conn, trip.trip_id, Span(0, 1), clock())).get("2C") is None
        assert (await store.seat_states(conn, trip.trip_id, Span(1, 2), clock()))["2C"] is SeatState.HELD


async def test_the_sweeper_expires_holds_and_tells_watchers(
    seat_database_url: str, redis_url: str, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    settings = settings_for(seat_database_url, redis_url, sweep_interval=timedelta(milliseconds=20))
    async with running_service(settings, clock) as service:
        trip = await create_trip(service.stub)
        hold = (await service.stub.HoldSeats(hold_request(trip.trip_id, ["1D"], "B", "C", ttl_s=60))).hold
        stream = service.stub.WatchSeatMap(
            api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D")
        )
        snapshot = await stream.read()
        assert states(snapshot.snapshot)["1D"] == seat_pb2.SEAT_STATE_HELD

        clock.advance(timedelta(seconds=61))
        change = (await asyncio.wait_for(stream.read(), timeout=30)).change
        stream.cancel()

    assert change.kind == seat_pb2.SEAT_CHANGE_KIND_EXPIRED
    assert (change.from_stop, change.to_stop) == ("B", "C")
    assert [(s.seat.seat_number, s.state) for s in change.seats] == [("1D", seat_pb2.SEAT_STATE_AVAILABLE)]
    async with pool.connection() as conn:
        assert (await store.get_hold(conn, hold.hold_id)).state is HoldState.EXPIRED  # type: ignore[union-attr]


async def test_flash_sale_400_clients_for_40_seats_sells_each_seat_once(
    seat: RunningSeatService, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    trip = await create_trip(seat.stub, rows=10)
    numbers = [s.seat_number for s in trip.seats]

    async def client(i: int) -> str:
        try:
            await seat.stub.HoldSeats(hold_request(trip.trip_id, [numbers[i % 40]]))
        except grpc.aio.AioRpcError as error:
            return reason(error)
        return "OK"

    outcomes = await asyncio.gather(*(client(i) for i in range(400)))

    assert outcomes.count("OK") == 40
    assert outcomes.count("SEAT_UNAVAILABLE") == 360
    async with pool.connection() as conn:
        assert await store.audit(conn, clock(), trip.trip_id) == 0
        cursor = await conn.execute(
            "SELECT count(*) AS n FROM seat_holds WHERE trip_id = %s AND state = 'ACTIVE'", (trip.trip_id,)
        )
        assert (await cursor.fetchone())["n"] == 40
