"""Bad input is INVALID_ARGUMENT with a field violation naming each offending field."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from common.errors import InvalidArgument
from seat_service.demo import demo_trip
from seat_service.domain import Money, SeatClass, Span, Stop
from seat_service.validation import (
    FareInput,
    HoldLimits,
    NewTrip,
    SeatLayout,
    resolve_span,
    validate_hold,
    validate_new_trip,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = HoldLimits(timedelta(minutes=10), timedelta(seconds=10), timedelta(minutes=30))
TRIP = demo_trip(now=NOW)


def _new_trip() -> NewTrip:
    return NewTrip(
        route_name="A - C",
        stops=(Stop("A", "Aa", 0), Stop("B", "Bb", 30), Stop("C", "Cc", 60)),
        departure_time=NOW,
        seats=(SeatLayout("1A", 1, 1, SeatClass.STANDARD), SeatLayout("1B", 1, 2, SeatClass.STANDARD)),
        fares=(
            FareInput(SeatClass.STANDARD, "A", "B", Money(500, "EUR")),
            FareInput(SeatClass.STANDARD, "B", "C", Money(700, "EUR")),
        ),
    )


def _fields(error: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {field for field, _ in error.value.field_violations}


def test_a_complete_trip_is_valid() -> None:
    validate_new_trip(_new_trip())


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"route_name": " "}, {"trip.route_name"}),
        ({"departure_time": None}, {"trip.departure_time"}),
        ({"stops": (Stop("A", "Aa", 0),)}, {"trip.stops", "trip.fares[0].to_stop", "trip.fares[1].from_stop",
          "trip.fares[1].to_stop"}),
        ({"stops": (Stop("A", "", 0), Stop("A", "", 5), Stop("C", "", 1))}, {"trip.stops[1].code",
          "trip.stops[2].minutes_after_departure", "trip.fares[0].to_stop", "trip.fares[1].from_stop",
          "trip.fares"}),
        ({"seats": ()}, {"trip.seats"}),
        ({"seats": (SeatLayout("1A", 1, 1, 1), SeatLayout("1A", 1, 2, 1))}, {"trip.seats[1].seat_number"}),
        ({"seats": (SeatLayout("1/A", 0, 1, 1),)}, {"trip.seats[0].seat_number", "trip.seats[0].row"}),
        ({"seats": (SeatLayout("1A", 1, 1, 0),)}, {"trip.seats[0].seat_class"}),
        ({"seats": (SeatLayout("1A", 1, 1, 1), SeatLayout("1B", 1, 1, 1))}, {"trip.seats[1].column"}),
        ({"seats": (SeatLayout("1A", 1, 1, SeatClass.PREMIUM),)}, {"trip.fares"}),
    ],
)  # fmt: skip
def test_each_problem_of_a_trip_names_its_field(change: dict[str, object], fields: set[str]) -> None:
    with pytest.raises(InvalidArgument) as error:
        validate_new_trip(replace(_new_trip(), **change))  # type: ignore[arg-type]
    assert _fields(error) == fields
    assert error.value.reason == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("fare", "fields"),
    [
        (FareInput(SeatClass.STANDARD, "B", "A", Money(1, "EUR")), {"trip.fares[2].to_stop"}),
        (FareInput(SeatClass.STANDARD, "X", "C", Money(1, "EUR")), {"trip.fares[2].from_stop"}),
        (FareInput(SeatClass.STANDARD, "A", "C", Money(-1, "EUR")), {"trip.fares[2].price.amount_minor"}),
        (FareInput(SeatClass.STANDARD, "A", "C", Money(1, "eur")),
         {"trip.fares[2].price.currency_code", "trip.fares"}),
        (FareInput(SeatClass.STANDARD, "A", "C", Money(1, "USD")), {"trip.fares"}),
        (FareInput(SeatClass.UNSPECIFIED, "A", "C", Money(1, "EUR")), {"trip.fares[2].seat_class"}),
        (FareInput(SeatClass.STANDARD, "A", "B", Money(1, "EUR")), {"trip.fares[2]"}),
    ],
)  # fmt: skip
def test_each_problem_of_a_fare_names_its_field(fare: FareInput, fields: set[str]) -> None:
    trip = _new_trip()
    with pytest.raises(InvalidArgument) as error:
        validate_new_trip(replace(trip, fares=(*trip.fares, fare)))
    assert _fields(error) == fields


def test_a_journey_runs_forward_between_stops_of_the_trip() -> None:
    assert resolve_span(TRIP, "UTR", "DUS") == Span(1, 3)
    for start, end, fields in [
        ("DUS", "AMS", {"to_stop"}),
        ("AMS", "AMS", {"to_stop"}),
        ("XXX", "DUS", {"from_stop"}),
        ("AMS", "", {"to_stop"}),
        ("", "", {"from_stop", "to_stop"}),
    ]:
        with pytest.raises(InvalidArgument) as error:
            resolve_span(TRIP, start, end)
        assert _fields(error) == fields


def test_a_valid_hold_request_gets_the_default_ttl() -> None:
    request = validate_hold(TRIP, ["1A", "2B"], "AMS", "ARN", "alice", None, "r1", LIMITS)
    assert (request.seat_numbers, request.span) == (("1A", "2B"), Span(0, 2))
    assert request.ttl == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("seats", "holder", "ttl", "fields"),
    [
        ([], "alice", None, {"seat_numbers"}),
        (["1A", "1A"], "alice", None, {"seat_numbers[1]"}),
        (["1A", "99Z"], "alice", None, {"seat_numbers[1]"}),
        (["1A"], "", None, {"holder_id"}),
        (["1A"], "alice", timedelta(seconds=1), {"ttl"}),
        (["1A"], "alice", timedelta(hours=1), {"ttl"}),
    ],
)
def test_each_problem_of_a_hold_request_names_its_field(
    seats: list[str], holder: str, ttl: timedelta | None, fields: set[str]
) -> None:
    with pytest.raises(InvalidArgument) as error:
        validate_hold(TRIP, seats, "AMS", "DUS", holder, ttl, "r1", LIMITS)
    assert _fields(error) == fields


def test_a_hold_request_reports_all_its_problems_at_once() -> None:
    with pytest.raises(InvalidArgument) as error:
        validate_hold(TRIP, [], "DUS", "AMS", "", None, "r1", LIMITS)
    assert _fields(error) == {"seat_numbers", "holder_id", "to_stop"}
