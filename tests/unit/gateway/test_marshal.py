"""Messages to JSON like grpc-gateway's default marshaler (after its marshal_jsonpb_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from farebox.booking.v1 import booking_pb2
from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2, seat_pb2
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from common.errors import InvalidArgument
from gateway import marshal

LIST_TRIPS = seat_inventory_service_pb2.ListTripsResponse
WATCH = seat_inventory_service_pb2.WatchSeatMapResponse


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (money_pb2.Money(), {"amountMinor": "0", "currencyCode": ""}),
        (
            money_pb2.Money(amount_minor=9_007_199_254_740_993, currency_code="EUR"),
            {"amountMinor": "9007199254740993", "currencyCode": "EUR"},
        ),
        (
            seat_pb2.Seat(seat_number="1A", seat_class=seat_pb2.SEAT_CLASS_PREMIUM),
            {"seatNumber": "1A", "row": 0, "column": 0, "seatClass": "SEAT_CLASS_PREMIUM"},
        ),
        (seat_pb2.Seat(), {"seatNumber": "", "row": 0, "column": 0, "seatClass": "SEAT_CLASS_UNSPECIFIED"}),
        (LIST_TRIPS(), {"trips": [], "nextPageToken": ""}),
        (
            booking_pb2.Booking(
                booking_id="b", hold_expire_time=timestamp_pb2.Timestamp(seconds=1, nanos=500_000_000)
            ),
            {"holdExpireTime": "1970-01-01T00:00:01.500Z"},
        ),
        (WATCH(), {}),
        (
            WATCH(change=seat_pb2.SeatChange(kind=seat_pb2.SEAT_CHANGE_KIND_SOLD)),
            {"change": {"kind": "SEAT_CHANGE_KIND_SOLD", "seats": [], "fromStop": "", "toStop": ""}},
        ),
    ],
)
def test_writes_protojson_with_unpopulated_fields(message: Message, expected: dict[str, Any]) -> None:
    value = marshal.to_json(message)
    assert {key: value[key] for key in expected} == expected
    assert set(expected) <= set(value)


def test_leaves_unset_message_fields_out() -> None:
    assert "departureTime" not in marshal.to_json(seat_pb2.Trip())


def test_writes_only_the_response_body_field_when_asked() -> None:
    response = LIST_TRIPS(trips=[seat_pb2.Trip(trip_id="t1")], next_page_token="n")
    assert [trip["tripId"] for trip in marshal.response_value(response, "trips")] == ["t1"]
    assert marshal.response_value(seat_inventory_service_pb2.GetTripResponse(), "trip")["tripId"] == ""
    assert marshal.response_value(response)["nextPageToken"] == "n"


def test_round_trips_through_the_request_parser() -> None:
    trip = seat_pb2.Trip(trip_id="t", fares=[seat_pb2.Fare(price=money_pb2.Money(amount_minor=2**40))])
    parsed = seat_pb2.Trip()
    marshal.merge(json_format.MessageToDict(trip), parsed)
    assert parsed == trip


def test_encodes_compact_utf8() -> None:
    assert marshal.encode({"name": "Zürich", "n": [1]}) == '{"name":"Zürich","n":[1]}'.encode()


@pytest.mark.parametrize("body", [b"", b"{", b"NaN", b'{"a": Infinity}', b"\xff"])
def test_refuses_malformed_json(body: bytes) -> None:
    with pytest.raises(InvalidArgument) as raised:
        marshal.decode(body)
    assert raised.value.reason == "MALFORMED_JSON"
