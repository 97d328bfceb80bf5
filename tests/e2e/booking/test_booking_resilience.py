"""Booking under contention and crashes, end to end, each run checked by `farebox audit`."""

from __future__ import annotations

import asyncio
import signal

import grpc
import psycopg
import pytest
from farebox.booking.v1 import booking_pb2
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub

from tests.e2e.booking.conftest import new_trip, public_channel, signed_in
from tests.e2e.booking.stack import Stack
from tests.unit.booking.harness import eventually, new_id

pytestmark = pytest.mark.slow

SEATS = tuple(f"{row}{letter}" for row in range(1, 6) for letter in "ABCD")


async def payment_statuses(stack: Stack, booking_ids: list[str]) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(stack.database_url) as conn:
        cursor = await conn.execute(
            "SELECT status, count(*) FROM payments WHERE booking_reference = ANY(%s) GROUP BY status",
            (booking_ids,),
        )
        return {status: count for status, count in await cursor.fetchall()}


async def test_300_clients_race_for_20_seats(stack: Stack, booking_stub: BookingServiceStub) -> None:
    trip_id = await new_trip(stack, rows=5)
    reserved: list[str] = []
    outcomes: dict[str, int] = {}

    async def client(number: int) -> booking_pb2.Booking | None:
        traveller = signed_in(stack, booking_stub, f"racer-{number}-{trip_id}")
        try:
            booking = await traveller.reserve(trip_id, (SEATS[number % len(SEATS)],))
        except grpc.aio.AioRpcError as error:
            outcomes[error.code().name] = outcomes.get(error.code().name, 0) + 1
            return None
        reserved.append(booking.booking_id)
        return await traveller.confirm(booking.booking_id)

    results = await asyncio.gather(*(client(number) for number in range(300)))
    confirmed = [r for r in results if r is not None and r.status == booking_pb2.BOOKING_STATUS_CONFIRMED]
    assert len(confirmed) == 20
    assert sorted(seat for r in confirmed for seat in r.seat_numbers) == sorted(SEATS)
    assert outcomes == {"ABORTED": 280}  # every loser was told the seat is taken
    statuses = await payment_statuses(stack, reserved)
    assert statuses == {"CAPTURED": 20}  # no authorization left open, none made for a loser
    code, report = await asyncio.to_thread(stack.audit)
    assert code == 0, report
    assert report["oversold_seat_segments"] == 0


@pytest.mark.parametrize("crash_at", ["after_authorize", "after_commit"])
async def test_a_killed_booking_service_finishes_the_saga_after_restart(stack: Stack, crash_at: str) -> None:
    crashing = stack.booking_process(f"booking-crash-{crash_at}", BOOKING_FAULT_CRASH_AT=crash_at)
    await asyncio.to_thread(crashing.start)
    trip_id = await new_trip(stack)
    async with public_channel(stack, crashing) as channel:
        traveller = signed_in(stack, BookingServiceStub(channel), new_id("traveller"))
        booking = await traveller.reserve(trip_id, ("2B",))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await traveller.confirm(booking.booking_id)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await asyncio.to_thread(crashing.wait_exit) == -signal.SIGKILL
    assert crashing.events("fault_injected_crash")

    await asyncio.to_thread(crashing.start, BOOKING_FAULT_CRASH_AT="")
    try:
        async with public_channel(stack, crashing) as channel:
            traveller = traveller.on(BookingServiceStub(channel))

            async def finished() -> bool:
                return (
                    await traveller.get(booking.booking_id)
                ).status == booking_pb2.BOOKING_STATUS_CONFIRMED

            await eventually(finished, within=30)
            assert len((await traveller.get(booking.booking_id)).tickets) == 1
    finally:
        await asyncio.to_thread(crashing.stop)
    resumed = [*crashing.events("saga_resumed"), *stack.booking.events("saga_resumed")]
    assert any(event["saga_id"].startswith(booking.booking_id) for event in resumed)
    assert await payment_statuses(stack, [booking.booking_id]) == {"CAPTURED": 1}
    code, report = await asyncio.to_thread(stack.audit)
    assert code == 0, report
