"""Trips, seats, spans, holds and seat maps: pure data and the rules of segments and pricing.

A trip's route is a list of stops; segment i runs from stop i to stop i + 1. A journey or a hold
covers a `Span` of stops [start, end), that is segments start .. end - 1. A seat is taken for a
journey when any segment it covers is sold, or held by a hold that has not expired.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from functools import cached_property

Clock = Callable[[], datetime]

_HOLD_NAMESPACE = uuid.UUID("5f7a3a52-7c1e-4d8e-9a56-2f0f8f3c1b01")
_TRIP_NAMESPACE = uuid.UUID("0b9d3e4a-61c2-4a8f-8e0e-7d2b5c9a4f10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def system_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, the unit of expiry times in the seat index."""
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """The UTC time `ms` milliseconds after the epoch."""
    return _EPOCH + ms * _MS


class SeatClass(IntEnum):
    """A seat's comfort class; the numbers are the contract's."""

    UNSPECIFIED = 0
    STANDARD = 1
    PREMIUM = 2
    SLEEPER = 3


class SeatState(IntEnum):
    """A seat's state for one journey, ordered so that the worst segment wins."""

    AVAILABLE = 1
    HELD = 2
    SOLD = 3


class HoldState(StrEnum):
    """Where a hold is in its life."""

    ACTIVE = "ACTIVE"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


class ChangeKind(StrEnum):
    """What happened to some seats."""

    HELD = "HELD"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    SOLD = "SOLD"
    RETURNED = "RETURNED"


@dataclass(frozen=True)
class Money:
    """An amount in minor units of one currency."""

    amount_minor: int
    currency_code: str


@dataclass(frozen=True)
class Stop:
    """A stop of a route."""

    code: str
    name: str
    minutes_after_departure: int


@dataclass(frozen=True)
class Seat:
    """A seat of a trip's layout."""

    seat_number: str
    row: int
    column: int
    seat_class: SeatClass


@dataclass(frozen=True)
class Fare:
    """The price of one seat of a class for a span of stops, given by stop codes."""

    seat_class: SeatClass
    from_stop: str
    to_stop: str
    price: Money


@dataclass(frozen=True)
class Span:
    """Stops [start, end) of a route: the segments start .. end - 1."""

    start: int
    end: int

    @property
    def segments(self) -> range:
        """The indexes of the segments the span covers."""
        return range(self.start, self.end)

    def overlaps(self, other: Span) -> bool:
        """Whether the two spans share a segment."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Trip:
    """A departure of a coach on a route, with its layout and fares."""

    trip_id: str
    operator_id: str
    route_name: str
    stops: tuple[Stop, ...]
    departure_time: datetime
    seats: tuple[Seat, ...]
    fares: tuple[Fare, ...]
    create_time: datetime

    @property
    def stop_codes(self) -> tuple[str, ...]:
        """The stop codes in travel order."""
        return tuple(stop.code for stop in self.stops)

    @property
    def currency_code(self) -> str:
        """The currency every fare of the trip is in."""
        return self.fares[0].price.currency_code if self.fares else ""

    def stop_index(self, code: str) -> int | None:
        """The position of a stop on the route, or None for a stop the trip does not call at."""
        codes = self.stop_codes
        return codes.index(code) if code in codes else None

    def seat(self, seat_number: str) -> Seat | None:
        """A seat of the layout by number, or None."""
        return self._seats_by_number.get(seat_number)

    @cached_property
    def _seats_by_number(self) -> dict[str, Seat]:
        return {seat.seat_number: seat for seat in self.seats}

    @cached_property
    def fare_table(self) -> dict[tuple[SeatClass, str, str], Money]:
        """The fares by (class, from stop, to stop)."""
        return {(fare.seat_class, fare.from_stop, fare.to_stop): fare.price for fare in self.fares}

    @property
    def full_span(self) -> Span:
        """The whole route."""
        return Span(0, len(self.stops) - 1)


@dataclass(frozen=True)
class Hold:
    """Some seats of a trip kept for a span until expiry, commit or release."""

    hold_id: str
    trip_id: str
    seat_numbers: tuple[str, ...]
    span: Span
    holder_id: str
    state: HoldState
    expire_time: datetime
    total_price: Money
    booking_id: str = ""
    request_id: str = ""

    def is_active(self, now: datetime) -> bool:
        """Whether the hold still keeps its seats at `now`."""
        return self.state is HoldState.ACTIVE and self.expire_time > now

    def same_request(self, other: Hold) -> bool:
        """Whether two holds ask for the same seats of the same trip and span."""
        return (
            self.trip_id == other.trip_id
            and sorted(self.seat_numbers) == sorted(other.seat_numbers)
            and self.span == other.span
            and self.holder_id == other.holder_id
        )


@dataclass(frozen=True)
class SeatStatus:
    """One seat's state and price for a journey."""

    seat: Seat
    state: SeatState
    price: Money


@dataclass(frozen=True)
class SeatMap:
    """Every seat of a trip with its state and price for one journey."""

    trip_id: str
    span: Span
    seats: tuple[SeatStatus, ...]
    read_time: datetime
    degraded: bool = False


@dataclass(frozen=True)
class SeatChange:
    """Some seats changed; their states are as seen by one journey."""

    kind: ChangeKind
    span: Span
    seats: tuple[SeatStatus, ...]
    change_time: datetime


@dataclass(frozen=True)
class Claim:
    """What holds one seat-segment: a hold until its expiry, or a sale."""

    sold: bool
    hold_id: str
    expire_ms: int = 0

    def takes(self, now_ms: int) -> SeatState:
        """The state this claim gives its seat-segment at `now_ms`."""
        if self.sold:
            return SeatState.SOLD
        return SeatState.HELD if self.expire_ms > now_ms else SeatState.AVAILABLE


def hold_id_for(holder_id: str, request_id: str) -> str:
    """The id of the hold a request makes: derived from its key, so a retry finds the same hold."""
    if not request_id:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_HOLD_NAMESPACE, f"{holder_id}\x1f{request_id}"))


def trip_id_for(operator_id: str, request_id: str) -> str:
    """The id of the trip a request creates: derived from its key, so a retry finds the same trip."""
    if not request_id:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_TRIP_NAMESPACE, f"{operator_id}\x1f{request_id}"))


def price_for(trip: Trip, seat_class: SeatClass, span: Span) -> Money:
    """A seat's price for a span: its own fare, else the sum of its segments' fares."""
    fares = trip.fare_table
    codes = trip.stop_codes
    direct = fares.get((seat_class, codes[span.start], codes[span.end]))
    if direct is not None:
        return direct
    total = sum(fares[(seat_class, codes[i], codes[i + 1])].amount_minor for i in span.segments)
    return Money(total, trip.currency_code)


def hold_price(trip: Trip, seat_numbers: Iterable[str], span: Span) -> Money:
    """The total price of some seats of a trip for a span."""
    total = 0
    for number in seat_numbers:
        seat = trip.seat(number)
        if seat is None:
            raise KeyError(number)
        total += price_for(trip, seat.seat_class, span).amount_minor
    return Money(total, trip.currency_code)


def seat_state(claims: Iterable[Claim | None], now_ms: int) -> SeatState:
    """A seat's state for a journey from the claims on the segments it covers."""
    state = SeatState.AVAILABLE
    for claim in claims:
        if claim is not None:
            state = max(state, claim.takes(now_ms))
    return state


def seat_statuses(
    trip: Trip, span: Span, states: dict[str, SeatState], seat_numbers: Iterable[str] | None = None
) -> tuple[SeatStatus, ...]:
    """The given seats (all of them by default), in layout order, with their states and prices."""
    wanted = None if seat_numbers is None else set(seat_numbers)
    return tuple(
        SeatStatus(
            seat, states.get(seat.seat_number, SeatState.AVAILABLE), price_for(trip, seat.seat_class, span)
        )
        for seat in trip.seats
        if wanted is None or seat.seat_number in wanted
    )


def expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a hold made at `now` for `ttl` expires, to the millisecond the index keeps."""
    return from_ms(to_ms(now + ttl))


@dataclass(frozen=True)
class SoldSeatSegment:
    """One sold seat-segment and the hold it was sold through."""

    seat_number: str
    segment: int
    hold_id: str
    holder_id: str
    hold_seat_count: int


@dataclass(frozen=True)
class IndexSnapshot:
    """What the seat index of one trip must hold: its active holds and its sales."""

    trip_id: str
    active_holds: tuple[Hold, ...]
    sold: tuple[SoldSeatSegment, ...]
