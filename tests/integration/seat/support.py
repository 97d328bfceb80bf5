"""Helpers for the seat-service tests: a settable clock, trips to create, a running service, error details."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import grpc
from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as api_grpc
from farebox.seat.v1 import seat_pb2
from google.protobuf import duration_pb2, timestamp_pb2
from grpc_health.v1 import health_pb2_grpc

from common.errors import error_info
from common.server import ServiceHost
from common.settings import Env
from seat_service.domain import system_clock
from seat_service.server import build_server
from seat_service.settings import SeatSettings
from tests.support.auth import stand_in_auth

STOPS = ("A", "B", "C", "D")
SEGMENT_FARE = 1000


class FakeClock:
    """A clock the test moves by hand, so expiry needs no waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or system_clock()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def settings_for(database_url: str, redis_url: str, **overrides: Any) -> SeatSettings:
    """Seat settings for a test: plaintext, the sweeper idle unless asked, health probed often, and a
    Redis timeout long enough that a busy shared machine is not mistaken for a Redis outage."""
    base = SeatSettings.from_env(
        Env({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SEAT_SWEEP_INTERVAL": "1h",
             "SEAT_HEALTH_INTERVAL": "100ms", "SEAT_REDIS_TIMEOUT": "3s", "SEAT_PORT": "0",
             "FAREBOX_INSECURE_DEV": "true"})
    )  # fmt: skip
    return replace(base, **overrides)


def trip_message(rows: int = 10, stops: tuple[str, ...] = STOPS, hours_ahead: int = 24) -> seat_pb2.Trip:
    """A trip of `rows` rows of four standard seats over `stops`, each segment costing SEGMENT_FARE."""
    departure = timestamp_pb2.Timestamp()
    departure.FromDatetime(system_clock() + timedelta(hours=hours_ahead))
    return seat_pb2.Trip(
        route_name=" - ".join((stops[0], stops[-1])),
        stops=[seat_pb2.Stop(code=code, name=f"Stop {code}", minutes_after_departure=30 * i)
               for i, code in enumerate(stops)],
        departure_time=departure,
        seats=[seat_pb2.Seat(seat_number=f"{row}{letter}", row=row, column=column,
                             seat_class=seat_pb2.SEAT_CLASS_STANDARD)
               for row in range(1, rows + 1) for column, letter in enumerate("ABCD", start=1)],
        fares=[seat_pb2.Fare(seat_class=seat_pb2.SEAT_CLASS_STANDARD, from_stop=start, to_stop=end,
                             price=money_pb2.Money(amount_minor=SEGMENT_FARE, currency_code="EUR"))
               for start, end in itertools.pairwise(stops)],
    )  # fmt: skip


def new_key() -> str:
    """A request_id no other request uses (every mutation carries one)."""
    return uuid.uuid4().hex


async def create_trip(
    stub: api_grpc.SeatInventoryServiceStub, rows: int = 10, **kwargs: Any
) -> seat_pb2.Trip:
    """Creates a trip through the API and returns it."""
    response = await stub.CreateTrip(
        api.CreateTripRequest(trip=trip_message(rows, **kwargs), request_id=new_key())
    )
    return response.trip


def hold_request(
    trip_id: str, seats: list[str], start: str = "A", end: str = "D", holder: str = "", ttl_s: int = 600,
    request_id: str | None = None,
) -> api.HoldSeatsRequest:  # fmt: skip
    """A HoldSeats request; a fresh holder and request id unless given."""
    return api.HoldSeatsRequest(
        trip_id=trip_id, seat_numbers=seats, from_stop=start, to_stop=end,
        holder_id=holder or uuid.uuid4().hex, ttl=duration_pb2.Duration(seconds=ttl_s),
        request_id=uuid.uuid4().hex if request_id is None else request_id,
    )  # fmt: skip


def reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason of a failed call."""
    info = error_info(error)
    return "" if info is None else info.reason  # type: ignore[attr-defined]


def metadata(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The ErrorInfo metadata of a failed call."""
    info = error_info(error)
    return {} if info is None else dict(info.metadata)  # type: ignore[attr-defined]


def states(seat_map: seat_pb2.SeatMap) -> dict[str, int]:
    """Seat number -> SeatState value of a seat map."""
    return {item.seat.seat_number: item.state for item in seat_map.seats}


@dataclass
class RunningSeatService:
    """A seat service started in this process, with a channel to it."""

    host: ServiceHost
    channel: grpc.aio.Channel
    stub: api_grpc.SeatInventoryServiceStub
    health: health_pb2_grpc.HealthStub


@asynccontextmanager
async def running_service(settings: SeatSettings, clock: FakeClock) -> AsyncIterator[RunningSeatService]:
    """Builds and starts a seat service on a free port, callers named by `tests.support.auth`; stops it
    on exit."""
    host = await build_server(settings, clock, auth_interceptors=stand_in_auth())
    port = await host.start("127.0.0.1:0")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield RunningSeatService(
            host, channel, api_grpc.SeatInventoryServiceStub(channel), health_pb2_grpc.HealthStub(channel)
        )
    finally:
        await channel.close()
        await host.stop(timedelta(0))
