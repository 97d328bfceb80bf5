"""Redis is a rebuildable index: after FLUSHALL or a restart the seat map is the same, and while Redis is
down holds fail fast, seat maps degrade to PostgreSQL and health says what is missing."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2
from grpc_health.v1 import health_pb2
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from seat_service import store
from seat_service.domain import Span
from seat_service.redis_index import EPOCH_FIELD, index_key
from seat_service.server import SERVICE_NAME
from tests.integration.seat.redis_process import RedisProcess
from tests.integration.seat.support import (
    FakeClock,
    RunningSeatService,
    create_trip,
    hold_request,
    new_key,
    reason,
    running_service,
    settings_for,
)

JOURNEYS = [(a, b) for a, b in itertools.combinations("ABCD", 2)]


@pytest.fixture
async def service(
    seat_database_url: str, private_redis: RedisProcess, clock: FakeClock
) -> AsyncIterator[RunningSeatService]:
    """A seat service whose Redis the test may flush, stop and restart."""
    async with running_service(settings_for(seat_database_url, private_redis.url), clock) as running:
        yield running


@pytest.fixture
async def private_client(private_redis: RedisProcess) -> AsyncIterator[Redis]:
    """A client of the private Redis."""
    client = Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


async def _maps(
    service: RunningSeatService, trip_id: str
) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    maps = {}
    for start, end in JOURNEYS:
        response = await service.stub.GetSeatMap(
            api.GetSeatMapRequest(trip_id=trip_id, from_stop=start, to_stop=end)
        )
        assert not response.seat_map.degraded
        maps[(start, end)] = [
            (s.seat.seat_number, s.state, s.price.amount_minor) for s in response.seat_map.seats
        ]
    return maps


async def _busy_trip(service: RunningSeatService) -> tuple[str, str]:
    """A trip with held, sold, returned and released seats; returns it and a holder near the limit."""
    trip = await create_trip(service.stub, rows=4)
    holder = uuid.uuid4().hex
    await service.stub.HoldSeats(hold_request(trip.trip_id, ["1A", "1B"], "A", "B", holder=holder))
    sold = (
        await service.stub.HoldSeats(hold_request(trip.trip_id, ["2A", "2B", "2C"], "B", "D", holder=holder))
    ).hold
    await service.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=sold.hold_id, booking_id=f"bk-{sold.hold_id}")
    )
    returned = (await service.stub.HoldSeats(hold_request(trip.trip_id, ["3A"], "A", "D"))).hold
    await service.stub.CommitHold(
        api.CommitHoldRequest(
            request_id=new_key(), hold_id=returned.hold_id, booking_id=f"bk-{returned.hold_id}"
        )
    )
    await service.stub.ReleaseSeats(
        api.ReleaseSeatsRequest(request_id=new_key(), booking_id=f"bk-{returned.hold_id}")
    )
    released = (await service.stub.HoldSeats(hold_request(trip.trip_id, ["4A"], "A", "C"))).hold
    await service.stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id=released.hold_id))
    return trip.trip_id, holder


async def _refuses_taken_seats(service: RunningSeatService, trip_id: str, holder: str) -> None:
    for seats, start, end in [(["1A"], "A", "C"), (["2B"], "C", "D"), (["4D", "2C"], "B", "C")]:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await service.stub.HoldSeats(hold_request(trip_id, seats, start, end))
        assert reason(error.value) == "SEAT_UNAVAILABLE"
    with pytest.raises(grpc.aio.AioRpcError) as error:  # 5 held or sold: the limit of 6 still counts them
        await service.stub.HoldSeats(hold_request(trip_id, ["4B", "4C"], "A", "B", holder=holder))
    assert reason(error.value) == "MAX_PER_HOLDER_EXCEEDED"


async def test_after_flushall_the_index_is_rebuilt_on_first_use(
    service: RunningSeatService, private_client: Redis
) -> None:
    trip_id, holder = await _busy_trip(service)
    before = await _maps(service, trip_id)

    await private_client.flushall()
    assert await _maps(service, trip_id) == before

    await private_client.flushall()
    await _refuses_taken_seats(service, trip_id, holder)  # a hold is the first to find the index gone
    assert await _maps(service, trip_id) == before


async def test_after_a_restart_without_persistence_the_index_is_the_same(
    service: RunningSeatService, private_redis: RedisProcess
) -> None:
    trip_id, holder = await _busy_trip(service)
    before = await _maps(service, trip_id)

    private_redis.stop()
    private_redis.start()
    await asyncio.wait_for(_health(service, SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING), 30)

    await _refuses_taken_seats(service, trip_id, holder)
    assert await _maps(service, trip_id) == before


async def test_a_starting_service_rebuilds_the_index(
    seat_database_url: str, private_redis: RedisProcess, private_client: Redis, clock: FakeClock
) -> None:
    settings = settings_for(seat_database_url, private_redis.url)
    async with running_service(settings, clock) as first:
        trip_id, _ = await _busy_trip(first)
        before = await _maps(first, trip_id)
    await private_client.flushall()

    async with running_service(settings, clock) as second:
        assert await private_client.hget(index_key(trip_id), EPOCH_FIELD) is not None  # before any request
        assert await _maps(second, trip_id) == before


async def _health(service: RunningSeatService, name: str, wanted: int) -> None:
    stream = service.health.Watch(health_pb2.HealthCheckRequest(service=name))
    async for response in stream:
        if response.status == wanted:
            stream.cancel()
            return


async def test_while_redis_is_down_holds_fail_fast_and_seat_maps_degrade(
    service: RunningSeatService, private_redis: RedisProcess, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    trip_id, _ = await _busy_trip(service)
    before = await _maps(service, trip_id)
    held = (await service.stub.HoldSeats(hold_request(trip_id, ["4D"], "C", "D"))).hold

    private_redis.stop()
    await asyncio.wait_for(_health(service, SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING), 30)
    overall = await service.health.Check(health_pb2.HealthCheckRequest(service=""))
    assert overall.status == health_pb2.HealthCheckResponse.SERVING  # the process itself is fine

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await service.stub.HoldSeats(hold_request(trip_id, ["3B"], "A", "B"))
    assert (error.value.code(), reason(error.value)) == (grpc.StatusCode.UNAVAILABLE, "REDIS_UNAVAILABLE")
    response = await service.stub.GetSeatMap(
        api.GetSeatMapRequest(trip_id=trip_id, from_stop="A", to_stop="D")
    )
    assert response.seat_map.degraded
    expected = {n: s for n, s, _ in before[("A", "D")]} | {"4D": seat_pb2.SEAT_STATE_HELD}
    assert {s.seat.seat_number: s.state for s in response.seat_map.seats} == expected
    async with pool.connection() as conn:  # nothing half-written
        cursor = await conn.execute("SELECT count(*) AS n FROM seat_holds WHERE trip_id = %s", (trip_id,))
        assert (await cursor.fetchone())["n"] == 5
    released = await service.stub.ReleaseHold(
        api.ReleaseHoldRequest(request_id=new_key(), hold_id=held.hold_id)
    )  # PostgreSQL decides
    assert released.hold.state == seat_pb2.HOLD_STATE_RELEASED

    private_redis.start()  # empty
    await asyncio.wait_for(_health(service, SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING), 30)
    assert await _maps(service, trip_id) == before
    await service.stub.HoldSeats(hold_request(trip_id, ["4D"], "A", "D"))
    async with pool.connection() as conn:
        assert await store.audit(conn, clock(), trip_id) == 0


async def test_holds_racing_a_flushall_never_hold_a_seat_segment_twice(
    service: RunningSeatService, private_client: Redis, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    trip = await create_trip(service.stub, rows=3)
    numbers = [s.seat_number for s in trip.seats]
    rng = random.Random(11)
    done = 0
    flushed = asyncio.Event()

    async def attempt() -> seat_pb2.Hold | None:
        nonlocal done
        start = rng.randrange(0, 3)
        end = rng.randrange(start + 1, 4)
        request = hold_request(trip.trip_id, rng.sample(numbers, 2), "ABCD"[start], "ABCD"[end])
        try:
            return (await service.stub.HoldSeats(request)).hold
        except grpc.aio.AioRpcError as error:
            # Taken, or refused as retryable while the index is rebuilt (a loaded machine may see it).
            assert reason(error) in ("SEAT_UNAVAILABLE", "REDIS_UNAVAILABLE", "SEAT_INDEX_REBUILDING")
            return None
        finally:
            done += 1
            if done == 40:
                await private_client.flushall()  # while the other holds are in flight
                flushed.set()

    outcomes = await asyncio.gather(*(attempt() for _ in range(300)))
    assert flushed.is_set()

    holds = [hold for hold in outcomes if hold is not None]
    assert holds, "no hold was granted at all"
    claimed: set[tuple[str, int]] = set()
    for hold in holds:
        mine = {
            (s, g)
            for s in hold.seat_numbers
            for g in range("ABCD".index(hold.from_stop), "ABCD".index(hold.to_stop))
        }
        assert not mine & claimed, "two acknowledged holds share a seat-segment"
        claimed |= mine
    async with pool.connection() as conn:
        assert await store.audit(conn, clock(), trip.trip_id) == 0
        for start, end in JOURNEYS:
            span = Span("ABCD".index(start), "ABCD".index(end))
            truth = await store.seat_states(conn, trip.trip_id, span, clock())
            response = await service.stub.GetSeatMap(
                api.GetSeatMapRequest(trip_id=trip.trip_id, from_stop=start, to_stop=end)
            )
            indexed = {
                s.seat.seat_number: s.state
                for s in response.seat_map.seats
                if s.state != seat_pb2.SEAT_STATE_AVAILABLE
            }
            assert indexed == {seat: int(state) for seat, state in truth.items()}
