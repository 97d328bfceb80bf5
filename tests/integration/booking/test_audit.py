"""`farebox audit` finds every broken invariant across the booking, seat and payment stores."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import psycopg

from farebox_cli.audit import audit
from seat_service.demo import ensure_demo_trip
from tests.e2e.booking.conftest import Traveller
from tests.e2e.booking.stack import ROOT
from tests.integration.booking.conftest import Services
from tests.unit.booking.harness import new_id


async def confirmed_booking(services: Services, traveller: Traveller) -> str:
    trip = await ensure_demo_trip(services.database_url, trip_id=new_id("trip"), rows=2)
    booking = await traveller.reserve(trip.trip_id, ("1A", "1B"))
    await traveller.confirm(booking.booking_id)
    return booking.booking_id


async def execute(services: Services, query: str, *params: object) -> None:
    async with await psycopg.AsyncConnection.connect(services.database_url, autocommit=True) as conn:
        await conn.execute(query, params)


async def run(services: Services):  # type: ignore[no-untyped-def]
    return await audit(services.database_url, services.database_url, services.database_url)


def mismatched(entries: list[dict[str, object]]) -> set[object]:
    return {entry["booking_id"] for entry in entries}


async def test_consistent_stores_pass(services: Services, traveller: Traveller) -> None:
    booking_id = await confirmed_booking(services, traveller)
    report = await run(services)
    assert report.ok, report
    assert booking_id not in mismatched(report.seat_mismatches)
    assert report.sold_seats >= 2 and report.net_captured_minor == report.confirmed_total_minor


async def test_a_missing_sale_is_a_seat_mismatch(services: Services, traveller: Traveller) -> None:
    booking_id = await confirmed_booking(services, traveller)
    await execute(services, "DELETE FROM seat_sales WHERE booking_id = %s AND seat_number = '1B'", booking_id)
    report = await run(services)
    assert not report.ok
    [entry] = [e for e in report.seat_mismatches if e["booking_id"] == booking_id]
    assert len(entry["booked"]) == 2 and len(entry["sold"]) == 1
    assert booking_id not in mismatched(report.money_mismatches)


async def test_money_kept_for_a_booking_that_is_not_confirmed(
    services: Services, traveller: Traveller
) -> None:
    booking_id = await confirmed_booking(services, traveller)
    await execute(services, "UPDATE bookings SET status = 'CANCELLED' WHERE booking_id = %s", booking_id)
    report = await run(services)
    [money] = [e for e in report.money_mismatches if e["booking_id"] == booking_id]
    total = (await traveller.get(booking_id)).total_price.amount_minor
    assert (money["expected_minor"], money["net_captured_minor"]) == (0, total)
    assert booking_id in mismatched(report.seat_mismatches)  # its seats are still sold


async def test_a_saga_in_flight_is_not_a_mismatch(services: Services, traveller: Traveller) -> None:
    booking_id = await confirmed_booking(services, traveller)
    await execute(services, "UPDATE bookings SET status = 'CONFIRMING' WHERE booking_id = %s", booking_id)
    report = await run(services)
    assert booking_id in report.in_flight_bookings
    assert booking_id not in mismatched(report.seat_mismatches) | mismatched(report.money_mismatches)


async def test_an_oversold_seat_segment_fails_the_cli(services: Services, traveller: Traveller) -> None:
    booking_id = await confirmed_booking(services, traveller)
    await execute(
        services,
        """
        INSERT INTO seat_holds (hold_id, trip_id, holder_id, request_id, seat_numbers, from_index, to_index,
            state, expire_time, total_minor, currency_code, create_time, update_time)
        SELECT hold_id || '-twin', trip_id, 'intruder', 'twin', seat_numbers, from_index, to_index,
            'ACTIVE', now() + interval '1 hour', total_minor, currency_code, now(), now()
        FROM seat_holds WHERE booking_id = %s
        """,
        booking_id,
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "farebox_cli", "audit"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": services.database_url, "LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["oversold_seat_segments"] >= 6  # 2 seats x 3 segments
