"""Input rules: every bad request becomes one InvalidArgument naming each offending field."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.errors import InvalidArgument
from seat_service.domain import Fare, Money, Seat, SeatClass, Span, Stop, Trip

MAX_STOPS = 32
MAX_SEATS = 2000
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
_SEAT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CLASSES = frozenset(SeatClass) - {SeatClass.UNSPECIFIED}


@dataclass(frozen=True)
class NewTrip:
    """A trip as an operator asks for it, before the server gives it an id."""

    route_name: str
    stops: tuple[Stop, ...]
    departure_time: datetime | None
    seats: tuple[SeatLayout, ...]
    fares: tuple[FareInput, ...]


@dataclass(frozen=True)
class FareInput:
    """A fare as an operator gives it; the class may still be unset."""

    seat_class: int
    from_stop: str
    to_stop: str
    price: Money


@dataclass(frozen=True)
class SeatLayout:
    """A seat as an operator describes it; the class may still be unset."""

    seat_number: str
    row: int
    column: int
    seat_class: int


@dataclass(frozen=True)
class HoldLimits:
    """The bounds a hold request must respect."""

    default_ttl: timedelta
    min_ttl: timedelta
    max_ttl: timedelta


@dataclass(frozen=True)
class HoldRequest:
    """A validated request to hold seats."""

    trip_id: str
    seat_numbers: tuple[str, ...]
    span: Span
    holder_id: str
    ttl: timedelta
    request_id: str


class Violations:
    """Collects field violations and raises them together."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        """Records one violation."""
        self.items.append((field, description))

    def raise_if_any(self, message: str) -> None:
        """Raises InvalidArgument with every violation recorded, if there is one."""
        if self.items:
            raise InvalidArgument(message, field_violations=self.items)


def require(value: str, field: str) -> str:
    """`value`, or InvalidArgument naming `field` when it is empty."""
    if not value:
        raise InvalidArgument(f"{field} is required", field_violations=[(field, "must not be empty")])
    return value


def validate_new_trip(trip: NewTrip) -> None:
    """Raises InvalidArgument for every problem of a trip to create."""
    problems = Violations()
    if not trip.route_name.strip():
        problems.add("trip.route_name", "must not be empty")
    if trip.departure_time is None:
        problems.add("trip.departure_time", "must be set")
    _check_stops(trip.stops, problems)
    _check_seats(trip.seats, problems)
    _check_fares(trip, problems)
    problems.raise_if_any("the trip is not valid")


def _check_stops(stops: tuple[Stop, ...], problems: Violations) -> None:
    if not 2 <= len(stops) <= MAX_STOPS:
        problems.add("trip.stops", f"must list 2 to {MAX_STOPS} stops")
    seen: set[str] = set()
    previous = 0
    for i, stop in enumerate(stops):
        if not _CODE.match(stop.code):
            problems.add(f"trip.stops[{i}].code", "must be 1-16 letters, digits, '_' or '-'")
        elif stop.code in seen:
            problems.add(f"trip.stops[{i}].code", f"repeats stop {stop.code}")
        seen.add(stop.code)
        if stop.minutes_after_departure < previous:
            problems.add(f"trip.stops[{i}].minutes_after_departure", "must not be before the previous stop")
        previous = max(previous, stop.minutes_after_departure)


def _check_seats(seats: tuple[SeatLayout, ...], problems: Violations) -> None:
    if not 1 <= len(seats) <= MAX_SEATS:
        problems.add("trip.seats", f"must list 1 to {MAX_SEATS} seats")
    numbers: set[str] = set()
    places: set[tuple[int, int]] = set()
    for i, seat in enumerate(seats):
        if not _SEAT_NUMBER.match(seat.seat_number):
            problems.add(f"trip.seats[{i}].seat_number", "must be 1-16 letters, digits, '.', '_' or '-'")
        elif seat.seat_number in numbers:
            problems.add(f"trip.seats[{i}].seat_number", f"repeats seat {seat.seat_number}")
        numbers.add(seat.seat_number)
        if seat.row < 1:
            problems.add(f"trip.seats[{i}].row", "must be at least 1")
        if seat.column < 1:
            problems.add(f"trip.seats[{i}].column", "must be at least 1")
        if (seat.row, seat.column) in places:
            problems.add(f"trip.seats[{i}].column", f"repeats the place of another seat in row {seat.row}")
        places.add((seat.row, seat.column))
        if seat.seat_class not in _CLASSES:
            problems.add(f"trip.seats[{i}].seat_class", "must be a known class")


def _check_fares(trip: NewTrip, problems: Violations) -> None:
    order = {stop.code: i for i, stop in enumerate(trip.stops)}
    currencies: set[str] = set()
    given: set[tuple[int, str, str]] = set()
    for i, fare in enumerate(trip.fares):
        path = f"trip.fares[{i}]"
        if fare.seat_class not in _CLASSES:
            problems.add(f"{path}.seat_class", "must be a known class")
        start, end = order.get(fare.from_stop), order.get(fare.to_stop)
        if start is None:
            problems.add(f"{path}.from_stop", f"{fare.from_stop!r} is not a stop of the trip")
        if end is None:
            problems.add(f"{path}.to_stop", f"{fare.to_stop!r} is not a stop of the trip")
        elif start is not None and end <= start:
            problems.add(f"{path}.to_stop", "must come after from_stop")
        _check_price(fare.price, f"{path}.price", problems)
        currencies.add(fare.price.currency_code)
        key = (int(fare.seat_class), fare.from_stop, fare.to_stop)
        if key in given:
            problems.add(path, "repeats the fare of another entry")
        given.add(key)
    if len(currencies) > 1:
        problems.add("trip.fares", "must all be in one currency")
    classes = {seat.seat_class for seat in trip.seats if seat.seat_class in _CLASSES}
    codes = [stop.code for stop in trip.stops]
    for seat_class in sorted(classes):
        for first, second in itertools.pairwise(codes):
            if (int(seat_class), first, second) not in given:
                problems.add(
                    "trip.fares", f"no {SeatClass(seat_class).name} fare for segment {first}-{second}"
                )


def _check_price(price: Money, path: str, problems: Violations) -> None:
    if price.amount_minor < 0:
        problems.add(f"{path}.amount_minor", "must not be negative")
    if not _CURRENCY.match(price.currency_code):
        problems.add(f"{path}.currency_code", "must be an ISO 4217 code such as EUR")


def build_trip(new: NewTrip, trip_id: str, operator_id: str, create_time: datetime) -> Trip:
    """The trip to store for a request that passed `validate_new_trip`."""
    if new.departure_time is None:
        raise ValueError("build_trip needs a validated trip")
    return Trip(
        trip_id=trip_id,
        operator_id=operator_id,
        route_name=new.route_name.strip(),
        stops=new.stops,
        departure_time=new.departure_time,
        seats=tuple(_seat(seat) for seat in new.seats),
        fares=tuple(Fare(SeatClass(f.seat_class), f.from_stop, f.to_stop, f.price) for f in new.fares),
        create_time=create_time,
    )


def _seat(seat: SeatLayout) -> Seat:
    return Seat(seat.seat_number, seat.row, seat.column, SeatClass(seat.seat_class))


def resolve_span(trip: Trip, from_stop: str, to_stop: str) -> Span:
    """The span between two stop codes of a trip; InvalidArgument names the bad end."""
    problems = Violations()
    start, end = trip.stop_index(from_stop), trip.stop_index(to_stop)
    if start is None:
        problems.add("from_stop", f"{from_stop!r} is not a stop of trip {trip.trip_id}")
    if end is None:
        problems.add("to_stop", f"{to_stop!r} is not a stop of trip {trip.trip_id}")
    elif start is not None and end <= start:
        problems.add("to_stop", "must come after from_stop on the route")
    problems.raise_if_any("the journey is not valid")
    return Span(start or 0, end or 0)


def validate_hold(
    trip: Trip,
    seat_numbers: list[str],
    from_stop: str,
    to_stop: str,
    holder_id: str,
    ttl: timedelta | None,
    request_id: str,
    limits: HoldLimits,
) -> HoldRequest:
    """A hold request checked against its trip; InvalidArgument lists every problem."""
    problems = Violations()
    if not seat_numbers:
        problems.add("seat_numbers", "must list at least one seat")
    seen: set[str] = set()
    for i, number in enumerate(seat_numbers):
        if number in seen:
            problems.add(f"seat_numbers[{i}]", f"repeats seat {number}")
        elif trip.seat(number) is None:
            problems.add(f"seat_numbers[{i}]", f"{number!r} is not a seat of trip {trip.trip_id}")
        seen.add(number)
    if not holder_id:
        problems.add("holder_id", "must not be empty")
    if ttl is not None and not limits.min_ttl <= ttl <= limits.max_ttl:
        problems.add("ttl", f"must be between {limits.min_ttl} and {limits.max_ttl}")
    span = Span(0, 0)
    try:
        span = resolve_span(trip, from_stop, to_stop)
    except InvalidArgument as error:
        problems.items.extend(error.field_violations)
    problems.raise_if_any("the hold request is not valid")
    return HoldRequest(
        trip_id=trip.trip_id,
        seat_numbers=tuple(seat_numbers),
        span=span,
        holder_id=holder_id,
        ttl=ttl if ttl is not None else limits.default_ttl,
        request_id=request_id,
    )
