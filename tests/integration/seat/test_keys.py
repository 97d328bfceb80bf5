"""Every Redis key the service touches, from Python or inside a Lua script, carries its trip's hash tag,
and the keys of one command share it, so the scripts run unchanged on Redis Cluster."""

from __future__ import annotations

import asyncio
import re
import uuid

from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1.seat_inventory_service_pb2_grpc import SeatInventoryServiceStub
from redis.asyncio import Redis

from tests.integration.seat.redis_process import RedisProcess
from tests.integration.seat.support import (
    FakeClock,
    create_trip,
    hold_request,
    new_key,
    running_service,
    settings_for,
)

_KEYLESS = {"PING", "MULTI", "EXEC", "SCRIPT", "CLIENT", "HELLO", "ECHO", "FLUSHALL", "SELECT", "INFO"}
_ONE_KEY = {
    "HGET", "HSET", "HMGET", "HDEL", "HEXISTS", "ZADD", "ZREM", "ZRANGE", "ZREMRANGEBYSCORE", "PUBLISH",
}  # fmt: skip
_ALL_KEYS = {"DEL", "UNLINK", "SUBSCRIBE", "UNSUBSCRIBE"}
_TAGGED = re.compile(r"^seat:\{(?P<trip>[^{}]+)\}:")


def _keys(command: str) -> list[str]:
    words = command.split(" ")
    name = words[0].upper()
    if name in _KEYLESS:
        return []
    if name in _ONE_KEY:
        return [words[1]]
    if name in _ALL_KEYS:
        return words[1:]
    if name in ("EVALSHA", "EVAL"):
        return words[3 : 3 + int(words[2])]
    if name == "SCAN":
        return [words[words.index("MATCH") + 1]]
    raise AssertionError(f"a command the test does not know the keys of: {name}")


async def _exercise(stub: SeatInventoryServiceStub, client: Redis) -> str:
    """Every operation of the service once, including a rebuild; returns the trip."""
    trip = await create_trip(stub, rows=2)
    watch = stub.WatchSeatMap(api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D"))
    await watch.read()
    sold = (await stub.HoldSeats(hold_request(trip.trip_id, ["1A", "1B"], "A", "C"))).hold
    await stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=sold.hold_id, booking_id=f"bk-{sold.hold_id}")
    )
    await stub.ReleaseSeats(api.ReleaseSeatsRequest(request_id=new_key(), booking_id=f"bk-{sold.hold_id}"))
    released = (await stub.HoldSeats(hold_request(trip.trip_id, ["2A"], "B", "D"))).hold
    await stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id=released.hold_id))
    await client.flushall()
    await stub.GetSeatMap(api.GetSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="B"))
    await stub.HoldSeats(hold_request(trip.trip_id, ["2B"], "A", "B"))
    watch.cancel()
    return trip.trip_id


async def test_every_key_touched_carries_the_trips_hash_tag(
    seat_database_url: str, private_redis: RedisProcess, clock: FakeClock
) -> None:
    client = Redis.from_url(private_redis.url)
    seen: list[tuple[str, str]] = []
    marker = f"done-{uuid.uuid4().hex}"
    async with client.monitor() as monitor:

        async def record() -> None:
            while True:
                info = await monitor.next_command()
                if marker in info["command"]:
                    return
                seen.append((info["client_type"], info["command"]))

        recording = asyncio.create_task(record())
        async with running_service(settings_for(seat_database_url, private_redis.url), clock) as service:
            trip_id = await _exercise(service.stub, client)
        await client.echo(marker)
        await recording
    await client.aclose()

    keys = [(source, key) for source, command in seen for key in _keys(command)]
    untagged = [key for _, key in keys if not _TAGGED.match(key)]
    assert untagged == []
    for _, command in seen:  # one command, one slot: the keys of a script call share their tag
        assert len({_TAGGED.match(key).group("trip") for key in _keys(command)}) <= 1, command  # type: ignore[union-attr]
    in_scripts = {key.split(":")[2] for source, key in keys if source == "lua" and trip_id in key}
    assert in_scripts == {"index", "holder", "events"}
