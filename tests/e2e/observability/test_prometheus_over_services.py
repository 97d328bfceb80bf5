"""A real Prometheus scrapes the seat, payment and booking processes and finds what a few bookings did.

The processes run as deployed (tests/e2e/booking/stack.py: TLS, tokens, mTLS between services),
each serving /metrics on the free port its `metrics_server_started` log line names. Every series is
read through Prometheus's HTTP API and compared with the calls the test made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from farebox.booking.v1 import booking_pb2
from farebox.booking.v1.booking_service_pb2_grpc import BookingServiceStub

from tests.e2e.booking.conftest import new_trip, public_channel, signed_in
from tests.e2e.booking.stack import Stack, start_stack
from tests.integration.observability.prometheus_server import PrometheusServer, start_prometheus
from tests.support.databases import fresh_database, migrate_all
from tests.support.platform import DevCredentials
from tests.unit.booking.harness import new_id

SEAT = "farebox.seat.v1.SeatInventoryService"
PAYMENT = "farebox.payment.v1.PaymentService"
BOOKING = "farebox.booking.v1.BookingService"
CONFIRMED_SEATS = ("3A", "3B", "3C")
DECLINED_SEATS = ("4A", "4B")
# How long the series may take to show every call, all together (a scrape lands every 500 ms).
SCRAPES_WAIT_S = 15.0


@dataclass
class Observed:
    """The running stack and the Prometheus scraping it (jobs seat, payment, booking and relay)."""

    stack: Stack
    prometheus: PrometheusServer


@pytest.fixture(scope="module")
def observed(
    postgres_server_url: str,
    redis_url: str,
    dev_credentials: DevCredentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Observed]:
    """The stack on a fresh database, scraped every 500 ms once every target is up."""
    with fresh_database(postgres_server_url) as database_url:
        migrate_all(database_url)
        logs = tmp_path_factory.mktemp("observability-e2e")
        stack = start_stack(database_url, redis_url, logs, dev_credentials)
        try:
            processes = {"seat": stack.seat, "payment": stack.payment, "booking": stack.booking,
                         "relay": stack.relay}  # fmt: skip
            targets = {job: [process.metrics_target] for job, process in processes.items()}
            with start_prometheus(logs / "prometheus", targets, scrape_interval="500ms") as prometheus:
                prometheus.wait_for_targets_up(len(targets))
                yield Observed(stack, prometheus)
        finally:
            stack.stop()


def selector(name: str, **labels: str) -> str:
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def server_handled(job: str, service: str, method: str, code: str = "OK") -> str:
    labels = {"job": job, "grpc_service": service, "grpc_method": method, "grpc_code": code}
    return selector("grpc_server_handled_total", **labels)


def client_handled(service: str, method: str, code: str = "OK") -> str:
    labels = {"job": "booking", "grpc_service": service, "grpc_method": method, "grpc_code": code}
    return selector("grpc_client_handled_total", **labels)


async def test_the_scraped_series_match_the_bookings_driven(observed: Observed) -> None:
    stack = observed.stack
    trip_id = await new_trip(stack)
    async with public_channel(stack, stack.booking) as channel:
        traveller = signed_in(stack, BookingServiceStub(channel), new_id("traveller"))
        for seat in CONFIRMED_SEATS:
            booking = await traveller.reserve(trip_id, (seat,))
            confirmed = await traveller.confirm(booking.booking_id)
            assert confirmed.status == booking_pb2.BOOKING_STATUS_CONFIRMED
        booking = await traveller.reserve(trip_id, DECLINED_SEATS)
        declined = await traveller.confirm(booking.booking_id, token="tok_insufficient_funds")
        assert declined.status == booking_pb2.BOOKING_STATUS_PAYMENT_FAILED

    reserved, paid = len(CONFIRMED_SEATS) + 1, len(CONFIRMED_SEATS)
    expected = {
        server_handled("booking", BOOKING, "ReserveSeats"): reserved,
        server_handled("booking", BOOKING, "ConfirmBooking"): reserved,
        server_handled("seat", SEAT, "HoldSeats"): reserved,
        server_handled("seat", SEAT, "CommitHold"): paid,
        server_handled("payment", PAYMENT, "AuthorizePayment"): reserved,
        server_handled("payment", PAYMENT, "CapturePayment"): paid,
        f"sum({selector('grpc_server_handled_total', job='booking')}) - "
        f"sum({server_handled('booking', BOOKING, 'ReserveSeats')}) - "
        f"sum({server_handled('booking', BOOKING, 'ConfirmBooking')})": 0,
        client_handled(SEAT, "HoldSeats"): reserved,
        client_handled(SEAT, "CommitHold"): paid,
        client_handled(PAYMENT, "AuthorizePayment"): reserved,
        client_handled(PAYMENT, "CapturePayment"): paid,
        selector("farebox_bookings_total", job="booking", status="pending"): reserved,
        selector("farebox_bookings_total", job="booking", status="confirmed"): paid,
        selector("farebox_bookings_total", job="booking", status="payment_failed"): 1,
        selector("farebox_seats_sold_total", job="seat"): len(CONFIRMED_SEATS),
        selector("farebox_oversold_seat_segments", job="seat"): 0,
        selector("farebox_outbox_lag_seconds", job="relay", outbox="booking") + " >= bool 0": 1,
    }
    deadline = time.monotonic() + SCRAPES_WAIT_S
    found = {}
    for expr, value in expected.items():
        remaining = max(deadline - time.monotonic(), 0.0)
        found[expr] = await asyncio.to_thread(observed.prometheus.wait_for_value, expr, value, remaining)
    assert found == expected
