"""Converts between the contract's messages and the domain's dataclasses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from seat_service.domain import (
    ChangeKind,
    Hold,
    HoldState,
    Money,
    Seat,
    SeatChange,
    SeatClass,
    SeatMap,
    SeatStatus,
    Stop,
    Trip,
)
from seat_service.paging import TripFilter
from seat_service.validation import FareInput, NewTrip, SeatLayout

_HOLD_STATES = {
    HoldState.ACTIVE: seat_pb2.HOLD_STATE_ACTIVE,
    HoldState.COMMITTED: seat_pb2.HOLD_STATE_COMMITTED,
    HoldState.RELEASED: seat_pb2.HOLD_STATE_RELEASED,
    HoldState.EXPIRED: seat_pb2.HOLD_STATE_EXPIRED,
}
_CHANGE_KINDS = {
    ChangeKind.HELD: seat_pb2.SEAT_CHANGE_KIND_HELD,
    ChangeKind.RELEASED: seat_pb2.SEAT_CHANGE_KIND_RELEASED,
    ChangeKind.EXPIRED: seat_pb2.SEAT_CHANGE_KIND_EXPIRED,
    ChangeKind.SOLD: seat_pb2.SEAT_CHANGE_KIND_SOLD,
    ChangeKind.RETURNED: seat_pb2.SEAT_CHANGE_KIND_RETURNED,
}


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def moment(message: timestamp_pb2.Timestamp) -> datetime:
    """A UTC datetime from a protobuf Timestamp."""
    return cast(datetime, message.ToDatetime(tzinfo=UTC))


def duration(message: duration_pb2.Duration) -> timedelta:
    """A timedelta from a protobuf Duration."""
    return cast(timedelta, message.ToTimedelta())


def _seat_class(value: SeatClass) -> seat_pb2.SeatClass:
    return cast(seat_pb2.SeatClass, int(value))


def money(value: Money) -> money_pb2.Money:
    """A protobuf Money."""
    return money_pb2.Money(amount_minor=value.amount_minor, currency_code=value.currency_code)


def new_trip(message: seat_pb2.Trip) -> NewTrip:
    """The trip a CreateTrip request asks for; server-set fields are ignored."""
    return NewTrip(
        route_name=message.route_name,
        stops=tuple(Stop(s.code, s.name, s.minutes_after_departure) for s in message.stops),
        departure_time=moment(message.departure_time) if message.HasField("departure_time") else None,
        seats=tuple(SeatLayout(s.seat_number, s.row, s.column, s.seat_class) for s in message.seats),
        fares=tuple(
            FareInput(
                f.seat_class, f.from_stop, f.to_stop, Money(f.price.amount_minor, f.price.currency_code)
            )
            for f in message.fares
        ),
    )


def trip(value: Trip) -> seat_pb2.Trip:
    """A protobuf Trip."""
    return seat_pb2.Trip(
        trip_id=value.trip_id,
        operator_id=value.operator_id,
        route_name=value.route_name,
        stops=[
            seat_pb2.Stop(code=s.code, name=s.name, minutes_after_departure=s.minutes_after_departure)
            for s in value.stops
        ],
        departure_time=timestamp(value.departure_time),
        seats=[seat(s) for s in value.seats],
        fares=[
            seat_pb2.Fare(
                seat_class=_seat_class(f.seat_class),
                from_stop=f.from_stop,
                to_stop=f.to_stop,
                price=money(f.price),
            )
            for f in value.fares
        ],
        create_time=timestamp(value.create_time),
    )


def seat(value: Seat) -> seat_pb2.Seat:
    """A protobuf Seat."""
    return seat_pb2.Seat(
        seat_number=value.seat_number,
        row=value.row,
        column=value.column,
        seat_class=_seat_class(value.seat_class),
    )


def trip_filter(request: api.ListTripsRequest) -> TripFilter:
    """The filters of a ListTrips request; an unset time is no bound."""
    return TripFilter(
        origin=request.origin,
        destination=request.destination,
        departure_after=moment(request.departure_after) if request.HasField("departure_after") else None,
        departure_before=moment(request.departure_before) if request.HasField("departure_before") else None,
    )


def _statuses(values: tuple[SeatStatus, ...]) -> list[seat_pb2.SeatAvailability]:
    return [
        seat_pb2.SeatAvailability(
            seat=seat(v.seat), state=cast(seat_pb2.SeatState, int(v.state)), price=money(v.price)
        )
        for v in values
    ]


def seat_map(value: SeatMap, trip_value: Trip) -> seat_pb2.SeatMap:
    """A protobuf SeatMap."""
    return seat_pb2.SeatMap(
        trip_id=value.trip_id,
        from_stop=trip_value.stops[value.span.start].code,
        to_stop=trip_value.stops[value.span.end].code,
        seats=_statuses(value.seats),
        read_time=timestamp(value.read_time),
        degraded=value.degraded,
    )


def seat_change(value: SeatChange, trip_value: Trip) -> seat_pb2.SeatChange:
    """A protobuf SeatChange."""
    return seat_pb2.SeatChange(
        kind=_CHANGE_KINDS[value.kind],
        seats=_statuses(value.seats),
        from_stop=trip_value.stops[value.span.start].code,
        to_stop=trip_value.stops[value.span.end].code,
        change_time=timestamp(value.change_time),
    )


def hold(value: Hold, stops: tuple[Stop, ...]) -> seat_pb2.Hold:
    """A protobuf Hold; `stops` are its trip's, to name the span's ends."""
    return seat_pb2.Hold(
        hold_id=value.hold_id,
        trip_id=value.trip_id,
        seat_numbers=list(value.seat_numbers),
        from_stop=stops[value.span.start].code,
        to_stop=stops[value.span.end].code,
        holder_id=value.holder_id,
        state=_HOLD_STATES[value.state],
        expire_time=timestamp(value.expire_time),
        total_price=money(value.total_price),
        booking_id=value.booking_id,
    )
