"""WatchSeatMap: a snapshot, then every change, across service instances; a slow watcher stalls nobody."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2

from seat_service.domain import SeatChange, SeatMap, SeatState, Span
from seat_service.server import open_app
from seat_service.validation import HoldLimits, validate_hold
from tests.integration.seat.support import (
    FakeClock,
    RunningSeatService,
    create_trip,
    hold_request,
    new_key,
    running_service,
    settings_for,
    states,
)

WAIT = 30  # a guard against a hang, never a measurement
AVAILABLE = seat_pb2.SEAT_STATE_AVAILABLE
_LIMITS = HoldLimits(timedelta(minutes=10), timedelta(seconds=10), timedelta(minutes=30))


async def _next_change(stream: Any) -> seat_pb2.SeatChange:
    message = await asyncio.wait_for(stream.read(), WAIT)
    assert message.WhichOneof("event") == "change", message
    return message.change


def _seats(change: seat_pb2.SeatChange) -> list[tuple[str, int]]:
    return [(s.seat.seat_number, s.state) for s in change.seats]


async def test_a_watcher_gets_a_snapshot_then_each_change_as_its_journey_sees_it(
    seat: RunningSeatService,
) -> None:
    trip = await create_trip(seat.stub)
    first = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["1A"], "A", "B"))).hold
    whole = seat.stub.WatchSeatMap(api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D"))
    late = seat.stub.WatchSeatMap(api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="C", to_stop="D"))
    snapshot = (await asyncio.wait_for(whole.read(), WAIT)).snapshot
    assert states(snapshot)["1A"] == seat_pb2.SEAT_STATE_HELD
    assert states((await asyncio.wait_for(late.read(), WAIT)).snapshot)["1A"] == seat_pb2.SEAT_STATE_AVAILABLE

    second = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["1A", "1B"], "B", "D"))).hold
    change = await _next_change(whole)
    assert (change.kind, change.from_stop, change.to_stop) == (seat_pb2.SEAT_CHANGE_KIND_HELD, "B", "D")
    assert _seats(change) == [("1A", seat_pb2.SEAT_STATE_HELD), ("1B", seat_pb2.SEAT_STATE_HELD)]
    assert _seats(await _next_change(late)) == _seats(change)

    booking = f"bk-{second.hold_id}"
    await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=second.hold_id, booking_id=booking)
    )
    change = await _next_change(whole)
    assert change.kind == seat_pb2.SEAT_CHANGE_KIND_SOLD
    assert _seats(change) == [("1A", seat_pb2.SEAT_STATE_SOLD), ("1B", seat_pb2.SEAT_STATE_SOLD)]
    assert (await _next_change(late)).kind == seat_pb2.SEAT_CHANGE_KIND_SOLD

    await seat.stub.ReleaseHold(
        api.ReleaseHoldRequest(request_id=new_key(), hold_id=first.hold_id)
    )  # A-B: not the late journey's
    change = await _next_change(whole)
    assert change.kind == seat_pb2.SEAT_CHANGE_KIND_RELEASED
    assert _seats(change) == [("1A", seat_pb2.SEAT_STATE_SOLD)]  # still sold B-D, so taken for A-D

    await seat.stub.ReleaseSeats(api.ReleaseSeatsRequest(request_id=new_key(), booking_id=booking))
    for stream in (whole, late):
        change = await _next_change(stream)
        assert change.kind == seat_pb2.SEAT_CHANGE_KIND_RETURNED
        assert _seats(change) == [("1A", AVAILABLE), ("1B", AVAILABLE)]
    whole.cancel()
    late.cancel()


async def test_changes_reach_watchers_of_another_service_instance(
    seat: RunningSeatService, seat_database_url: str, redis_url: str, clock: FakeClock
) -> None:
    async with running_service(settings_for(seat_database_url, redis_url), clock) as other:
        trip = await create_trip(seat.stub)
        watchers = [
            other.stub.WatchSeatMap(api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="C"))
            for _ in range(2)
        ]
        for watcher in watchers:
            await asyncio.wait_for(watcher.read(), WAIT)
        await seat.stub.HoldSeats(hold_request(trip.trip_id, ["2D"], "B", "C"))
        for watcher in watchers:
            assert _seats(await _next_change(watcher)) == [("2D", seat_pb2.SEAT_STATE_HELD)]
            watcher.cancel()


async def test_a_slow_watcher_is_resynced_and_never_delays_the_others(
    seat: RunningSeatService, seat_database_url: str, redis_url: str, clock: FakeClock
) -> None:
    app = await open_app(replace(settings_for(seat_database_url, redis_url), watch_queue_size=3), clock)
    try:
        trip = await app.inventory.catalog.get((await create_trip(seat.stub)).trip_id)
        slow = app.hub.watch(trip, Span(0, 3))
        fast = app.hub.watch(trip, Span(0, 3))
        assert isinstance(await anext(slow), SeatMap)
        assert isinstance(await anext(fast), SeatMap)

        numbers = [seat.seat_number for seat in trip.seats[:10]]
        for number in numbers:  # the fast watcher sees every change while the slow one reads nothing
            request = validate_hold(trip, [number], "A", "D", uuid.uuid4().hex, None, "", _LIMITS)
            await app.inventory.hold(request)
            change = await asyncio.wait_for(anext(fast), WAIT)
            assert isinstance(change, SeatChange)
            assert [(s.seat.seat_number, s.state) for s in change.seats] == [(number, SeatState.HELD)]

        caught_up = await asyncio.wait_for(anext(slow), WAIT)  # its missed changes became one fresh snapshot
        assert isinstance(caught_up, SeatMap)
        assert {s.seat.seat_number for s in caught_up.seats if s.state is SeatState.HELD} == set(numbers)
        await slow.aclose()
        await fast.aclose()
    finally:
        await app.close()


async def test_watching_an_unknown_trip_or_a_bad_journey_fails_at_once(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    for request, code in [
        (
            api.WatchSeatMapRequest(trip_id="no-such-trip", from_stop="A", to_stop="B"),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="C", to_stop="A"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]:
        stream = seat.stub.WatchSeatMap(request)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await asyncio.wait_for(stream.read(), WAIT)
        assert error.value.code() == code
