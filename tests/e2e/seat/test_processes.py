"""Seat-service processes sharing one PostgreSQL and one Redis: changes cross processes, holds survive a
killed process, and a flash sale split across processes still sells each seat once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2

from tests.e2e.seat.conftest import SeatProcess
from tests.integration.seat.support import create_trip, hold_request, new_key, reason, states

WAIT = 30  # a guard against a hang, never a measurement
Start = Callable[..., Awaitable[SeatProcess]]


async def test_a_change_made_in_one_process_reaches_a_watcher_of_another(start_seat_process: Start) -> None:
    first, second = await start_seat_process(), await start_seat_process()
    trip = await create_trip(first.admin)
    watch = second.stub.WatchSeatMap(
        api.WatchSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D")
    )
    assert (await asyncio.wait_for(watch.read(), WAIT)).WhichOneof("event") == "snapshot"

    hold = (await first.stub.HoldSeats(hold_request(trip.trip_id, ["3B"], "B", "C"))).hold
    change = (await asyncio.wait_for(watch.read(), WAIT)).change
    assert (change.kind, [s.seat.seat_number for s in change.seats]) == (
        seat_pb2.SEAT_CHANGE_KIND_HELD,
        ["3B"],
    )

    await second.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-e2e")
    )
    change = (await asyncio.wait_for(watch.read(), WAIT)).change
    assert change.kind == seat_pb2.SEAT_CHANGE_KIND_SOLD
    watch.cancel()


async def test_an_acknowledged_hold_survives_a_killed_process(start_seat_process: Start) -> None:
    doomed = await start_seat_process()
    trip = await create_trip(doomed.admin)
    hold = (await doomed.stub.HoldSeats(hold_request(trip.trip_id, ["2A", "2B"], "A", "C"))).hold
    await doomed.kill()

    survivor = await start_seat_process()
    seat_map = await survivor.stub.GetSeatMap(
        api.GetSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="B")
    )
    assert states(seat_map.seat_map)["2A"] == seat_pb2.SEAT_STATE_HELD
    committed = await survivor.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-kill")
    )
    assert committed.hold.state == seat_pb2.HOLD_STATE_COMMITTED


async def test_a_flash_sale_across_two_processes_sells_each_seat_once(start_seat_process: Start) -> None:
    processes = [await start_seat_process(), await start_seat_process()]
    trip = await create_trip(processes[0].admin, rows=5)
    numbers = [s.seat_number for s in trip.seats]

    async def client(i: int) -> str:
        stub = processes[(i // len(numbers)) % 2].stub  # each seat is raced from both processes
        try:
            await stub.HoldSeats(
                hold_request(trip.trip_id, [numbers[i % len(numbers)]], holder=uuid.uuid4().hex)
            )
        except grpc.aio.AioRpcError as error:
            return reason(error)
        return "OK"

    outcomes = await asyncio.gather(*(client(i) for i in range(200)))
    assert outcomes.count("OK") == len(numbers)
    assert outcomes.count("SEAT_UNAVAILABLE") == 200 - len(numbers)
