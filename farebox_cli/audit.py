"""The audit: the booking, seat and payment stores must agree.

Invariants checked, per booking:
- sold seats == seats of confirmed bookings (the seat store's sales against the booking store);
- captured money == confirmed bookings' totals minus refunds (net capture per booking is its total
  when CONFIRMED, else zero);
- no seat-segment claimed twice by sales and active holds (the seat store's own audit).
Bookings whose saga is still running are reported as in flight, not as mismatches. `run_audit`
prints the report as JSON and returns the exit code: 0 when every invariant holds, else 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row

from seat_service import store as seat_store

Stores = tuple[str, str, str]


@dataclass
class AuditReport:
    """What the audit found."""

    confirmed_bookings: int = 0
    sold_seats: int = 0
    confirmed_total_minor: int = 0
    net_captured_minor: int = 0
    oversold_seat_segments: int = 0
    in_flight_bookings: list[str] = field(default_factory=list)
    seat_mismatches: list[dict[str, Any]] = field(default_factory=list)
    money_mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant holds."""
        return not (self.seat_mismatches or self.money_mismatches or self.oversold_seat_segments)


async def audit(booking_url: str, seat_url: str, payment_url: str) -> AuditReport:
    """Reads the three stores and compares them booking by booking."""
    bookings, in_flight = await _bookings(booking_url)
    sold, oversold = await _seats(seat_url)
    money = await _money(payment_url)
    report = AuditReport(oversold_seat_segments=oversold, in_flight_bookings=sorted(in_flight))
    confirmed = {booking_id: row for booking_id, row in bookings.items() if row["status"] == "CONFIRMED"}
    report.confirmed_bookings = len(confirmed)
    report.sold_seats = sum(len(seats) for seats in sold.values())
    report.confirmed_total_minor = sum(int(row["total_amount_minor"]) for row in confirmed.values())
    report.net_captured_minor = sum(money.values())
    for booking_id in sorted((set(confirmed) | set(sold)) - in_flight):
        row = confirmed.get(booking_id)
        expected = {(row["trip_id"], seat) for seat in row["seat_numbers"]} if row else set()
        if sold.get(booking_id, set()) != expected:
            report.seat_mismatches.append(
                {
                    "booking_id": booking_id,
                    "status": bookings[booking_id]["status"] if booking_id in bookings else None,
                    "booked": sorted(expected),
                    "sold": sorted(sold.get(booking_id, set())),
                }
            )
    for booking_id in sorted((set(confirmed) | set(money)) - in_flight):
        row = confirmed.get(booking_id)
        expected_minor = int(row["total_amount_minor"]) if row else 0
        if money.get(booking_id, 0) != expected_minor:
            report.money_mismatches.append(
                {
                    "booking_id": booking_id,
                    "status": bookings[booking_id]["status"] if booking_id in bookings else None,
                    "expected_minor": expected_minor,
                    "net_captured_minor": money.get(booking_id, 0),
                }
            )
    return report


async def _bookings(url: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        cursor = await conn.execute(
            "SELECT booking_id, status, trip_id, seat_numbers, total_amount_minor FROM bookings"
        )
        bookings = {row["booking_id"]: row for row in await cursor.fetchall()}
        cursor = await conn.execute(
            """
            SELECT DISTINCT s.booking_id FROM booking_sagas s
            WHERE s.step <> 'DONE' AND s.step <> 'RESOLVE'
            UNION SELECT booking_id FROM bookings WHERE status = 'CONFIRMING'
            """
        )
        in_flight = {row["booking_id"] for row in await cursor.fetchall()}
    return bookings, in_flight


async def _seats(url: str) -> tuple[dict[str, set[tuple[str, str]]], int]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        cursor = await conn.execute("SELECT DISTINCT booking_id, trip_id, seat_number FROM seat_sales")
        sold: dict[str, set[tuple[str, str]]] = {}
        for row in await cursor.fetchall():
            sold.setdefault(row["booking_id"], set()).add((row["trip_id"], row["seat_number"]))
        oversold = await seat_store.audit(conn, datetime.now(UTC))
    return sold, oversold


async def _money(url: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        cursor = await conn.execute(
            """
            SELECT booking_reference, sum(captured_minor - refunded_minor) AS net FROM payments
            GROUP BY booking_reference HAVING sum(captured_minor - refunded_minor) <> 0
            """
        )
        return {row["booking_reference"]: int(row["net"]) for row in await cursor.fetchall()}


def run_audit(booking_url: str, seat_url: str, payment_url: str, out: TextIO = sys.stdout) -> int:
    """Prints the audit report as JSON; returns 0 when every invariant holds, else 1."""
    report = asyncio.run(audit(booking_url, seat_url, payment_url))
    out.write(json.dumps({"ok": report.ok, **asdict(report)}, indent=2, default=list) + "\n")
    return 0 if report.ok else 1
