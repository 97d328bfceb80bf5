"""HoldSeats, ReleaseHold, CommitHold and ReleaseSeats through the API, against real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2
from psycopg_pool import AsyncConnectionPool

from common.errors import bad_request
from seat_service import store
from seat_service.domain import Hold, HoldState, Money, Span, expiry
from tests.integration.seat.support import (
    SEGMENT_FARE,
    FakeClock,
    RunningSeatService,
    create_trip,
    hold_request,
    metadata,
    new_key,
    reason,
    states,
)

AVAILABLE, HELD, SOLD = seat_pb2.SEAT_STATE_AVAILABLE, seat_pb2.SEAT_STATE_HELD, seat_pb2.SEAT_STATE_SOLD


async def _seat_map(seat: RunningSeatService, trip_id: str, start: str, end: str) -> seat_pb2.SeatMap:
    response = await seat.stub.GetSeatMap(
        api.GetSeatMapRequest(trip_id=trip_id, from_stop=start, to_stop=end)
    )
    return response.seat_map


async def test_a_hold_takes_its_seats_for_every_journey_that_shares_a_segment(
    seat: RunningSeatService,
) -> None:
    trip = await create_trip(seat.stub)
    response = await seat.stub.HoldSeats(hold_request(trip.trip_id, ["1A", "1B"], "A", "B"))

    hold = response.hold
    assert hold.state == seat_pb2.HOLD_STATE_ACTIVE
    assert (hold.from_stop, hold.to_stop, list(hold.seat_numbers)) == ("A", "B", ["1A", "1B"])
    assert (hold.total_price.amount_minor, hold.total_price.currency_code) == (2 * SEGMENT_FARE, "EUR")
    for start, end, expected in [
        ("A", "B", HELD),
        ("A", "C", HELD),
        ("B", "D", AVAILABLE),
        ("C", "D", AVAILABLE),
    ]:
        seat_map = await _seat_map(seat, trip.trip_id, start, end)
        assert not seat_map.degraded
        assert states(seat_map)["1A"] == expected, (start, end)
        assert states(seat_map)["2A"] == AVAILABLE
    prices = {
        item.seat.seat_number: item.price.amount_minor
        for item in (await _seat_map(seat, trip.trip_id, "A", "D")).seats
    }
    assert prices["1A"] == 3 * SEGMENT_FARE


async def test_a_taken_seat_fails_the_whole_hold_and_names_the_seat(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    await seat.stub.HoldSeats(hold_request(trip.trip_id, ["3C"], "B", "C"))

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.HoldSeats(hold_request(trip.trip_id, ["3B", "3C"], "A", "D"))
    assert error.value.code() == grpc.StatusCode.ABORTED
    assert reason(error.value) == "SEAT_UNAVAILABLE"
    assert metadata(error.value)["seats"] == "3C"
    assert states(await _seat_map(seat, trip.trip_id, "A", "D"))["3B"] == AVAILABLE  # all or nothing
    await seat.stub.HoldSeats(hold_request(trip.trip_id, ["3C"], "C", "D"))  # the free segment still sells


async def test_a_retried_hold_returns_the_same_hold_and_a_reused_key_is_refused(
    seat: RunningSeatService,
) -> None:
    trip = await create_trip(seat.stub)
    first = await seat.stub.HoldSeats(hold_request(trip.trip_id, ["4A"], holder="h-retry", request_id="k1"))
    again = await seat.stub.HoldSeats(hold_request(trip.trip_id, ["4A"], holder="h-retry", request_id="k1"))
    assert again.hold == first.hold

    await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=first.hold.hold_id, booking_id="b1")
    )
    after_commit = await seat.stub.HoldSeats(
        hold_request(trip.trip_id, ["4A"], holder="h-retry", request_id="k1")
    )
    assert (after_commit.hold.hold_id, after_commit.hold.state) == (
        first.hold.hold_id,
        seat_pb2.HOLD_STATE_COMMITTED,
    )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.HoldSeats(hold_request(trip.trip_id, ["4B"], holder="h-retry", request_id="k1"))
    assert (error.value.code(), reason(error.value)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_the_idempotency_key_metadata_stands_for_the_request_id(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    by_field = await seat.stub.HoldSeats(hold_request(trip.trip_id, ["6A"], holder="h-key", request_id="k6"))
    by_metadata = await seat.stub.HoldSeats(
        hold_request(trip.trip_id, ["6A"], holder="h-key", request_id=""),
        metadata=(("idempotency-key", "k6"),),
    )
    assert by_metadata.hold == by_field.hold
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.HoldSeats(
            hold_request(trip.trip_id, ["6A"], holder="h-key", request_id="k6"),
            metadata=(("idempotency-key", "other"),),
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_commit_sells_exactly_once(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    hold = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["5A", "5B"], "A", "C"))).hold

    first = await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-5")
    )
    second = await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-5")
    )
    assert first.hold == second.hold
    assert (first.hold.state, first.hold.booking_id) == (seat_pb2.HOLD_STATE_COMMITTED, "bk-5")
    assert states(await _seat_map(seat, trip.trip_id, "B", "D"))["5A"] == SOLD
    assert states(await _seat_map(seat, trip.trip_id, "C", "D"))["5A"] == AVAILABLE

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CommitHold(
            api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-other")
        )
    assert (error.value.code(), reason(error.value)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "HOLD_ALREADY_COMMITTED",
    )


async def test_release_is_idempotent_and_a_released_hold_cannot_be_committed(
    seat: RunningSeatService,
) -> None:
    trip = await create_trip(seat.stub)
    hold = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["6A"]))).hold

    first = await seat.stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id=hold.hold_id))
    second = await seat.stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id=hold.hold_id))
    assert first.hold.state == second.hold.state == seat_pb2.HOLD_STATE_RELEASED
    assert states(await _seat_map(seat, trip.trip_id, "A", "D"))["6A"] == AVAILABLE

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CommitHold(
            api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-6")
        )
    assert (error.value.code(), reason(error.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")


async def test_an_expired_hold_cannot_be_committed(seat: RunningSeatService, clock: FakeClock) -> None:
    trip = await create_trip(seat.stub)
    hold = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["6B"], ttl_s=60))).hold
    clock.advance(timedelta(seconds=60))

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CommitHold(
            api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-6b")
        )
    assert (error.value.code(), reason(error.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")


async def test_a_holder_may_not_hold_and_buy_more_than_the_limit(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    bought = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["7A", "7B", "7C"], holder="greedy"))).hold
    await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=bought.hold_id, booking_id="bk-7")
    )
    held = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["8A", "8B"], holder="greedy"))).hold

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.HoldSeats(hold_request(trip.trip_id, ["9A", "9B"], holder="greedy"))
    assert (error.value.code(), reason(error.value)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "MAX_PER_HOLDER_EXCEEDED",
    )
    assert states(await _seat_map(seat, trip.trip_id, "A", "D"))["9A"] == AVAILABLE

    await seat.stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id=held.hold_id))
    await seat.stub.HoldSeats(hold_request(trip.trip_id, ["9A", "9B", "9C"], holder="greedy"))


async def test_released_seats_of_a_cancelled_booking_go_back_to_stock_once(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    booking = f"bk-{uuid.uuid4().hex}"
    hold = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["10A", "10B"], "B", "D"))).hold
    await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id=booking)
    )

    first = await seat.stub.ReleaseSeats(api.ReleaseSeatsRequest(request_id=new_key(), booking_id=booking))
    second = await seat.stub.ReleaseSeats(api.ReleaseSeatsRequest(request_id=new_key(), booking_id=booking))
    assert (first.trip_id, list(first.seat_numbers)) == (trip.trip_id, ["10A", "10B"])
    assert (second.trip_id, list(second.seat_numbers)) == ("", [])
    assert states(await _seat_map(seat, trip.trip_id, "A", "D"))["10A"] == AVAILABLE
    await seat.stub.HoldSeats(hold_request(trip.trip_id, ["10A"], "A", "D"))


async def test_unknown_things_are_not_found(seat: RunningSeatService) -> None:
    for call in (
        seat.stub.HoldSeats(hold_request("no-such-trip", ["1A"])),
        seat.stub.GetSeatMap(api.GetSeatMapRequest(trip_id="no-such-trip", from_stop="A", to_stop="B")),
        seat.stub.CommitHold(
            api.CommitHoldRequest(request_id=new_key(), hold_id="no-such-hold", booking_id="b")
        ),
        seat.stub.ReleaseHold(api.ReleaseHoldRequest(request_id=new_key(), hold_id="no-such-hold")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_hold_requests_name_their_fields(seat: RunningSeatService) -> None:
    trip = await create_trip(seat.stub)
    cases = [
        (hold_request(trip.trip_id, []), {"seat_numbers"}),
        (hold_request(trip.trip_id, ["1A", "1A"]), {"seat_numbers[1]"}),
        (hold_request(trip.trip_id, ["99Z"]), {"seat_numbers[0]"}),
        (hold_request(trip.trip_id, ["1A"], "C", "B"), {"to_stop"}),
        (hold_request(trip.trip_id, ["1A"], ttl_s=1), {"ttl"}),
        (
            api.HoldSeatsRequest(
                request_id=new_key(), trip_id=trip.trip_id, seat_numbers=["1A"], from_stop="A", to_stop="B"
            ),
            {"holder_id"},
        ),
        (api.HoldSeatsRequest(request_id=new_key(), seat_numbers=["1A"]), {"trip_id"}),
        (api.HoldSeatsRequest(trip_id=trip.trip_id, seat_numbers=["1A"]), {"request_id"}),
    ]
    for request, fields in cases:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await seat.stub.HoldSeats(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = bad_request(error.value)
        assert violations is not None
        assert {v.field for v in violations.field_violations} == fields  # type: ignore[attr-defined]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CommitHold(api.CommitHoldRequest(request_id=new_key(), hold_id="h"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_concurrent_retries_of_one_hold_make_one_hold(
    seat: RunningSeatService, pool: AsyncConnectionPool
) -> None:
    trip = await create_trip(seat.stub)
    request = hold_request(trip.trip_id, ["2A", "2B"], holder="h-dup", request_id="same-key")
    responses = await asyncio.gather(*(seat.stub.HoldSeats(request) for _ in range(10)))
    assert len({response.hold.hold_id for response in responses}) == 1
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) AS n FROM seat_holds WHERE trip_id = %s", (trip.trip_id,)
        )
        assert (await cursor.fetchone())["n"] == 1


async def test_concurrent_commits_of_one_hold_sell_once(
    seat: RunningSeatService, pool: AsyncConnectionPool
) -> None:
    trip = await create_trip(seat.stub)
    hold = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["3A", "3B"], "A", "C"))).hold
    # Ten commits with their own request_ids: the sale itself, not the idempotency keys, is under test.
    requests = [
        api.CommitHoldRequest(request_id=new_key(), hold_id=hold.hold_id, booking_id="bk-once")
        for _ in range(10)
    ]
    responses = await asyncio.gather(*(seat.stub.CommitHold(request) for request in requests))
    assert {response.hold.SerializeToString(deterministic=True) for response in responses} == {
        responses[0].hold.SerializeToString(deterministic=True)
    }
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) AS n FROM seat_sales WHERE hold_id = %s", (hold.hold_id,)
        )
        assert (await cursor.fetchone())["n"] == 4  # 2 seats x 2 segments


async def test_a_commit_losing_to_an_earlier_sale_is_seat_sold_and_names_the_seats(
    seat: RunningSeatService, pool: AsyncConnectionPool, clock: FakeClock
) -> None:
    trip = await create_trip(seat.stub)
    winner = (await seat.stub.HoldSeats(hold_request(trip.trip_id, ["4A"], "A", "C"))).hold
    async with (
        pool.connection() as conn
    ):  # a hold the index never saw, as after a lost index or a skewed clock
        cursor = await conn.execute("SELECT index_epoch FROM trips WHERE trip_id = %s", (trip.trip_id,))
        epoch = await cursor.fetchone()
        stray = Hold(
            hold_id=uuid.uuid4().hex, trip_id=trip.trip_id, seat_numbers=("4B", "4A"), span=Span(1, 3),
            holder_id="stray", state=HoldState.ACTIVE, expire_time=expiry(clock(), timedelta(minutes=5)),
            total_price=Money(1, "EUR"),
        )  # fmt: skip
        assert (await store.insert_holds(conn, [store.ClaimedHold(stray, epoch["index_epoch"], clock())]))[0][
            1
        ]
    await seat.stub.CommitHold(
        api.CommitHoldRequest(request_id=new_key(), hold_id=winner.hold_id, booking_id="bk-win")
    )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CommitHold(
            api.CommitHoldRequest(request_id=new_key(), hold_id=stray.hold_id, booking_id="bk-lose")
        )
    assert (error.value.code(), reason(error.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAT_SOLD")
    assert metadata(error.value)["seats"] == "4A"
    async with pool.connection() as conn:
        assert (await store.get_hold(conn, stray.hold_id)).state is HoldState.RELEASED  # type: ignore[union-attr]
        assert await store.audit(conn, clock(), trip.trip_id) == 0
