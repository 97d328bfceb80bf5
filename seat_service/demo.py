"""The demo trip `make run` seeds: Amsterdam - Utrecht - Arnhem - Duesseldorf, 40 seats, EUR fares."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import psycopg
from psycopg.rows import dict_row

from seat_service import store
from seat_service.domain import Fare, Money, Seat, SeatClass, Stop, Trip, system_clock

DEMO_TRIP_ID = "demo-ams-dus"
DEMO_OPERATOR_ID = "demo-operator"
_STOPS = (
    Stop("AMS", "Amsterdam Sloterdijk", 0),
    Stop("UTR", "Utrecht Centraal", 40),
    Stop("ARN", "Arnhem Centraal", 95),
    Stop("DUS", "Duesseldorf Hbf", 180),
)
_SEGMENT_FARES = {SeatClass.STANDARD: (900, 1200, 1500), SeatClass.PREMIUM: (1400, 1800, 2200)}
_THROUGH_FARES = {SeatClass.STANDARD: 3000, SeatClass.PREMIUM: 4500}


def demo_trip(trip_id: str = DEMO_TRIP_ID, rows: int = 10, now: datetime | None = None) -> Trip:
    """A four-stop trip with `rows` rows of four seats (rows 1-2 premium), leaving tomorrow at 08:00 UTC."""
    now = now or system_clock()
    departure = datetime.combine(now.date() + timedelta(days=1), time(8, 0), tzinfo=now.tzinfo)
    seats = tuple(
        Seat(f"{row}{letter}", row, column, SeatClass.PREMIUM if row <= 2 else SeatClass.STANDARD)
        for row in range(1, rows + 1)
        for column, letter in enumerate("ABCD", start=1)
    )
    fares = [
        Fare(seat_class, _STOPS[i].code, _STOPS[i + 1].code, Money(amount, "EUR"))
        for seat_class, amounts in _SEGMENT_FARES.items()
        for i, amount in enumerate(amounts)
    ]
    fares += [
        Fare(seat_class, _STOPS[0].code, _STOPS[-1].code, Money(amount, "EUR"))
        for seat_class, amount in _THROUGH_FARES.items()
    ]
    return Trip(
        trip_id=trip_id,
        operator_id=DEMO_OPERATOR_ID,
        route_name="Amsterdam - Duesseldorf",
        stops=_STOPS,
        departure_time=departure,
        seats=seats,
        fares=tuple(fares),
        create_time=now,
    )


async def ensure_demo_trip(database_url: str, trip_id: str = DEMO_TRIP_ID, rows: int = 10) -> Trip:
    """Creates the demo trip unless it exists (migrations must be applied); returns the stored trip."""
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        trip, _ = await store.insert_trip(conn, demo_trip(trip_id, rows), request_hash="demo")
    return trip
