"""Booking against the real seat and payment services: the compensations they can trigger."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from farebox.booking.v1 import booking_pb2

from farebox_cli.audit import audit
from seat_service.demo import ensure_demo_trip
from tests.e2e.booking.conftest import Traveller
from tests.integration.booking.conftest import Services, named
from tests.unit.booking.harness import new_id


async def trip(services: Services) -> str:
    return (await ensure_demo_trip(services.database_url, trip_id=new_id("trip"), rows=2)).trip_id


async def payments(services: Services, booking_id: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(services.database_url) as conn:
        cursor = await conn.execute("SELECT status FROM payments WHERE booking_reference = %s", (booking_id,))
        return [row[0] for row in await cursor.fetchall()]


async def test_a_hold_the_seat_service_expired_voids_the_payment(
    services: Services, traveller: Traveller
) -> None:
    booking = await traveller.reserve(await trip(services), ("1A",))
    services.seat_clock.advance(timedelta(minutes=11))  # the seat service sees the hold expire first
    result = await traveller.confirm(booking.booking_id)
    assert result.status == booking_pb2.BOOKING_STATUS_EXPIRED
    assert result.failure_reason == "HOLD_EXPIRED"
    assert await payments(services, booking.booking_id) == ["VOIDED"]
    report = await audit(services.database_url, services.database_url, services.database_url)
    assert report.ok, report


async def test_a_capture_the_provider_refuses_returns_the_seats(
    services: Services, traveller: Traveller
) -> None:
    trip_id = await trip(services)
    booking = await traveller.reserve(trip_id, ("1B",))
    result = await traveller.confirm(booking.booking_id, token="tok_capture_fails")
    assert result.status == booking_pb2.BOOKING_STATUS_CANCELLED
    assert result.failure_reason == "CAPTURE_FAILED"
    assert await payments(services, booking.booking_id) == ["VOIDED"]
    again = await named(traveller.stub, new_id("next")).reserve(trip_id, ("1B",))
    assert again.status == booking_pb2.BOOKING_STATUS_PENDING  # the seat is back in stock
    report = await audit(services.database_url, services.database_url, services.database_url)
    assert report.ok, report
