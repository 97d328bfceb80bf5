"""The seat service under test: started on private stores, with trips made through its contract.

Trips are created with CreateTrip (the public contract, on the public TLS port with an admin's
bearer token), not through the service's store, so the scenarios do not depend on its internals.
HoldSeats is driven on the internal mTLS port with the booking service's client certificate, the
way the booking service calls it. Hold data walks the seats of a trip in a scrambled order
(seat = RequestNumber * 7919 mod seats) and the three segments in turn, so no (seat, segment) is
asked for twice within `seats * 3` requests: the holds measure the success path, and expire (2 s)
long before their cells come round again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2 as seat_api
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as seat_grpc
from farebox.seat.v1 import seat_pb2

from benchmarks.scenarios.context import Context
from benchmarks.scenarios.measure import Target
from benchmarks.stack import ClientAccess, ServiceProcess

HOLD_CALL = "farebox.seat.v1.SeatInventoryService.HoldSeats"
STOPS = (("A", "Amsterdam", 0), ("B", "Utrecht", 40), ("C", "Arnhem", 100), ("D", "Berlin", 420))
COLUMNS = "ABCD"
SEGMENTS = (("A", "B"), ("B", "C"), ("C", "D"))
WHOLE_ROUTE = ((STOPS[0][0], STOPS[-1][0]),)
SCRAMBLE = 7919
SHORT_TTL = "2s"


@dataclass(frozen=True)
class SeatService:
    """A running seat service: its internal port as HoldSeats' target (with the process groups
    behind it), and how to reach its public port."""

    process: ServiceProcess
    target: Target
    public: ClientAccess

    def create_trip(self, seats: int) -> str:
        """A new trip with `seats` seats, made through the public port."""
        return create_trip(self.process.address, self.public, seats)


def start_seat(ctx: Context, name: str, workers: int = 1) -> SeatService:
    """A seat service on a fresh database and Redis, with `workers` processes on each port."""
    database = ctx.stack.database(f"bench_{name.replace('-', '_')}")
    redis_server = ctx.stack.redis(name)
    env = {
        "SEAT_WORKERS": str(workers),
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_server.url,
        "SEAT_HOLD_TTL_MIN": "1s",
    }
    process = ctx.stack.start_service("seat", f"seat-{name}", env)
    groups = {"service": process.pids, "redis": redis_server.pids, "postgres": database.pids}
    target = Target(process.internal_address, groups, workers, ctx.stack.internal_access())
    return SeatService(process, target, ctx.stack.public_access())


def seat_number(index: int) -> str:
    """The seat at layout position `index`: rows of four, 1A 1B 1C 1D 2A ..."""
    return f"{index // len(COLUMNS) + 1}{COLUMNS[index % len(COLUMNS)]}"


def create_trip(address: str, access: ClientAccess, seats: int) -> str:
    """Creates a four-stop trip with `seats` standard seats; returns its id."""
    trip = seat_pb2.Trip(route_name=f"Benchmark {seats} seats")
    for code, name, minutes in STOPS:
        trip.stops.add(code=code, name=name, minutes_after_departure=minutes)
    trip.departure_time.FromDatetime(datetime.now(UTC) + timedelta(days=7))
    for index in range(seats):
        trip.seats.add(
            seat_number=seat_number(index),
            row=index // len(COLUMNS) + 1,
            column=index % len(COLUMNS) + 1,
            seat_class=seat_pb2.SEAT_CLASS_STANDARD,
        )
    for origin, destination in SEGMENTS:
        price = money_pb2.Money(amount_minor=1500, currency_code="EUR")
        trip.fares.add(
            seat_class=seat_pb2.SEAT_CLASS_STANDARD, from_stop=origin, to_stop=destination, price=price
        )
    with access.channel(address) as channel:
        stub = seat_grpc.SeatInventoryServiceStub(channel)  # type: ignore[no-untyped-call]
        request = seat_api.CreateTripRequest(trip=trip, request_id=str(uuid.uuid4()))
        response = stub.CreateTrip(request, metadata=access.call_metadata(), timeout=30)
    return str(response.trip.trip_id)


def seat_expression(index: str) -> str:
    """A template for the seat at layout position `index` (a template expression): row, then column.

    String literals are raw (backquoted): data is JSON text, where "quotes" would arrive escaped.
    """
    return f"{{{{add1 (div {index} 4)}}}}{{{{index (list `A` `B` `C` `D`) (mod {index} 4)}}}}"


def seat_template(seats: int) -> str:
    """A template naming a different seat for consecutive request numbers (scrambled order)."""
    return seat_expression(f"(mod (mul .RequestNumber {SCRAMBLE}) {seats})")


def hold_data(
    trip_id: str, seats: int, ttl: str = SHORT_TTL, spans: tuple[tuple[str, str], ...] = SEGMENTS
) -> list[dict[str, Any]]:
    """ghz data for HoldSeats: one seat, one span (in turn), a fresh holder and request id per call."""
    return [
        {
            "trip_id": trip_id,
            "seat_numbers": [seat_template(seats)],
            "from_stop": origin,
            "to_stop": destination,
            "holder_id": "bench-{{.UUID}}",
            "ttl": ttl,
            "request_id": "{{.UUID}}",
        }
        for origin, destination in spans
    ]


def seat_states(seat: SeatService, trip_id: str) -> Counter[str]:
    """How many seats of the whole route are AVAILABLE, HELD and SOLD now (asked on the public port)."""
    with seat.public.channel(seat.process.address) as channel:
        stub = seat_grpc.SeatInventoryServiceStub(channel)  # type: ignore[no-untyped-call]
        request = seat_api.GetSeatMapRequest(trip_id=trip_id, from_stop=STOPS[0][0], to_stop=STOPS[-1][0])
        response = stub.GetSeatMap(request, metadata=seat.public.call_metadata(), timeout=30)
    return Counter(seat_pb2.SeatState.Name(seat.state) for seat in response.seat_map.seats)
