"""CreateTrip, GetTrip and ListTrips through the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from google.protobuf import timestamp_pb2

from common.errors import bad_request
from seat_service.domain import system_clock
from tests.integration.seat.support import RunningSeatService, new_key, reason, trip_message


async def test_a_created_trip_reads_back_with_server_set_fields(seat: RunningSeatService) -> None:
    message = trip_message(rows=2)
    created = (await seat.stub.CreateTrip(api.CreateTripRequest(trip=message, request_id="t-1"))).trip
    assert created.trip_id and created.HasField("create_time")
    assert [stop.code for stop in created.stops] == ["A", "B", "C", "D"]
    assert len(created.seats) == 8 and len(created.fares) == 3

    fetched = (await seat.stub.GetTrip(api.GetTripRequest(trip_id=created.trip_id))).trip
    assert fetched == created


async def test_create_trip_is_idempotent_per_request_id(seat: RunningSeatService) -> None:
    key = uuid.uuid4().hex
    message = trip_message(rows=1)
    first = (await seat.stub.CreateTrip(api.CreateTripRequest(trip=message, request_id=key))).trip
    again = (await seat.stub.CreateTrip(api.CreateTripRequest(trip=message, request_id=key))).trip
    assert again == first

    other = trip_message(rows=2)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CreateTrip(api.CreateTripRequest(trip=other, request_id=key))
    assert (error.value.code(), reason(error.value)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_an_invalid_trip_names_every_bad_field(seat: RunningSeatService) -> None:
    message = trip_message(rows=1)
    message.stops[1].code = "A"
    message.seats[0].seat_class = 0
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CreateTrip(api.CreateTripRequest(request_id=new_key(), trip=message))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in bad_request(error.value).field_violations}  # type: ignore[union-attr]
    assert {"trip.stops[1].code", "trip.seats[0].seat_class"} <= fields

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.CreateTrip(api.CreateTripRequest(request_id=new_key()))
    assert [v.field for v in bad_request(error.value).field_violations] == ["trip"]  # type: ignore[union-attr]


async def test_list_trips_pages_through_matches_in_departure_order(seat: RunningSeatService) -> None:
    tag = uuid.uuid4().hex[:8]
    stops = (f"O{tag}", f"M{tag}", f"D{tag}")
    made = [
        (
            await seat.stub.CreateTrip(
                api.CreateTripRequest(request_id=new_key(), trip=trip_message(1, stops, hours_ahead=h))
            )
        ).trip.trip_id
        for h in (30, 10, 20)
    ]
    request = api.ListTripsRequest(origin=stops[0], destination=stops[2], page_size=2)
    first = await seat.stub.ListTrips(request)
    assert [trip.trip_id for trip in first.trips] == [made[1], made[2]]
    assert first.next_page_token
    second = await seat.stub.ListTrips(
        api.ListTripsRequest(
            origin=stops[0], destination=stops[2], page_size=2, page_token=first.next_page_token
        )
    )
    assert [trip.trip_id for trip in second.trips] == [made[0]]
    assert second.next_page_token == ""

    backwards = await seat.stub.ListTrips(api.ListTripsRequest(origin=stops[2], destination=stops[0]))
    assert list(backwards.trips) == []
    from_middle = await seat.stub.ListTrips(api.ListTripsRequest(origin=stops[1]))
    assert len(from_middle.trips) == 3
    ends_here = await seat.stub.ListTrips(api.ListTripsRequest(origin=stops[2]))
    assert list(ends_here.trips) == []


async def test_list_trips_filters_by_departure_window(seat: RunningSeatService) -> None:
    tag = uuid.uuid4().hex[:8]
    stops = (f"O{tag}", f"D{tag}")
    for hours in (5, 50):
        await seat.stub.CreateTrip(
            api.CreateTripRequest(request_id=new_key(), trip=trip_message(1, stops, hours_ahead=hours))
        )
    before = timestamp_pb2.Timestamp()
    before.FromDatetime(system_clock() + timedelta(hours=24))
    listed = await seat.stub.ListTrips(api.ListTripsRequest(origin=stops[0], departure_before=before))
    assert len(listed.trips) == 1


async def test_bad_page_tokens_and_sizes_are_invalid_arguments(seat: RunningSeatService) -> None:
    tag = uuid.uuid4().hex[:8]
    stops = (f"O{tag}", f"D{tag}")
    for _ in range(2):
        await seat.stub.CreateTrip(api.CreateTripRequest(request_id=new_key(), trip=trip_message(1, stops)))
    token = (await seat.stub.ListTrips(api.ListTripsRequest(origin=stops[0], page_size=1))).next_page_token
    for request, field in [
        (api.ListTripsRequest(page_token="garbage!"), "page_token"),
        (api.ListTripsRequest(origin="elsewhere", page_token=token), "page_token"),
        (api.ListTripsRequest(page_size=101), "page_size"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await seat.stub.ListTrips(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in bad_request(error.value).field_violations] == [field]  # type: ignore[union-attr]


async def test_an_unknown_trip_is_not_found(seat: RunningSeatService) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.GetTrip(api.GetTripRequest(trip_id="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
