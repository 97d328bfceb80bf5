"""Steady booking mix through the three services: browse 80% / reserve 15% / confirm 5%.

Browse is GetSeatMap on the seat service's public port; reserve is BookingService.ReserveSeats on
free seats of a large trip; confirm is BookingService.ConfirmBooking (sandbox card `tok_success`, or
FAREBOX_BENCH_PAYMENT_TOKEN) of bookings reserved before the run, one data element each. A
traveller may hold at most six seats of a trip, so the bookings are spread over many small trips,
six seats each (data elements round robin); browsing walks the same trips. Every call
goes over TLS with a bearer token; the booking service calls seat and payment on their internal
mTLS ports with its own certificate. The three streams run at once, each open-loop at its share of
the total rate, while the CPU of every process (seat, payment, booking, Redis, PostgreSQL) is
sampled once for all of them.
"""

from __future__ import annotations

import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from farebox.booking.v1 import booking_pb2
from farebox.booking.v1 import booking_service_pb2 as booking_api
from farebox.booking.v1 import booking_service_pb2_grpc as booking_grpc

from benchmarks import driver, procstat
from benchmarks.options import RunOptions
from benchmarks.scenarios.context import Check, Context, ScenarioResult, fixed_rate, ratio
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.measure import Measurement, Target
from benchmarks.scenarios.seat import STOPS, create_trip, seat_expression, seat_number
from benchmarks.stack import ClientAccess
from farebox_cli.stack import dev_ticket_key

SERVICES = ("seat", "payment", "booking")
TOTAL_RATE = 100.0
MIX = (("browse", 0.80), ("reserve", 0.15), ("confirm", 0.05))
TRIP_SEATS = 40
SEATS_PER_TRAVELLER = 6
ERROR_LIMIT = 0.01


def _start(ctx: Context) -> tuple[dict[str, str], dict[str, procstat.PidSource]]:
    """Seat, payment and booking on one fresh database and Redis: their public addresses and process
    groups. Booking reaches the other two on their internal ports."""
    database = ctx.stack.database("bench_steady_mix")
    redis_server = ctx.stack.redis("steady-mix")
    shared = {"DATABASE_URL": database.url, "REDIS_URL": redis_server.url}
    addresses: dict[str, str] = {}
    groups: dict[str, procstat.PidSource] = {}
    internal: dict[str, str] = {}
    for name in SERVICES:
        env = dict(shared)
        if name == "booking":
            env |= {
                "SEAT_TARGET": internal["seat"],
                "PAYMENT_TARGET": internal["payment"],
                "BOOKING_MAX_PENDING_PER_USER": "1000000",
                "BOOKING_TICKET_KEY": dev_ticket_key(ctx.stack.workdir),
            }
        process = ctx.stack.start_service(name, f"mix-{name}", env)
        addresses[name] = process.address
        internal[name] = process.internal_address
        groups[name] = process.pids
    groups["redis"] = redis_server.pids
    groups["postgres"] = database.pids
    return addresses, groups


def _reserve_data(trips: list[str]) -> list[dict[str, Any]]:
    """One element per trip; request n goes to trip n mod T and takes its seat (n div T) mod 6."""
    seat = seat_expression(f"(mod (div .RequestNumber {len(trips)}) {SEATS_PER_TRAVELLER})")
    return [
        {
            "trip_id": trip,
            "seat_numbers": [seat],
            "from_stop": STOPS[0][0],
            "to_stop": STOPS[-1][0],
            "passengers": [{"full_name": "Traveller {{.RequestNumber}}", "seat_number": seat}],
            "request_id": "{{.UUID}}",
        }
        for trip in trips
    ]


def _reserve_ahead(address: str, access: ClientAccess, trips: list[str], count: int) -> list[str]:
    """Bookings to confirm during the run: six seats of each trip in turn."""
    ids = []
    with access.channel(address) as channel:
        stub = booking_grpc.BookingServiceStub(channel)  # type: ignore[no-untyped-call]
        for index in range(count):
            seat = seat_number(index % SEATS_PER_TRAVELLER)
            request = booking_api.ReserveSeatsRequest(
                trip_id=trips[index // SEATS_PER_TRAVELLER],
                seat_numbers=[seat],
                from_stop=STOPS[0][0],
                to_stop=STOPS[-1][0],
                passengers=[booking_pb2.Passenger(full_name=f"Early {index}", seat_number=seat)],
                request_id=str(uuid.uuid4()),
            )
            ids.append(
                stub.ReserveSeats(request, metadata=access.call_metadata(), timeout=30).booking.booking_id
            )
    return ids


def run(ctx: Context) -> ScenarioResult:
    """The three streams at once for the run's length, then their figures side by side."""
    echo = baseline(ctx)
    addresses, groups = _start(ctx)
    public = ctx.stack.public_access()
    seconds = ctx.seconds(20)
    rates = {name: TOTAL_RATE * share for name, share in MIX}
    confirmations = round(rates["confirm"] * seconds) + 10
    reservations = round(rates["reserve"] * seconds) + 10
    ahead = math.ceil(confirmations / SEATS_PER_TRAVELLER)
    count = ahead + math.ceil(reservations / SEATS_PER_TRAVELLER)
    trips = [create_trip(addresses["seat"], public, TRIP_SEATS) for _ in range(count)]
    booking_ids = _reserve_ahead(addresses["booking"], public, trips[:ahead], confirmations)
    streams: dict[str, tuple[str, RunOptions]] = {
        "browse": (
            addresses["seat"],
            fixed_rate(
                "farebox.seat.v1.SeatInventoryService.GetSeatMap",
                [{"trip_id": trip, "from_stop": STOPS[0][0], "to_stop": STOPS[-1][0]} for trip in trips],
                rates["browse"],
                seconds,
            ),
        ),
        "reserve": (
            addresses["booking"],
            fixed_rate(
                "farebox.booking.v1.BookingService.ReserveSeats",
                _reserve_data(trips[ahead:]),
                rates["reserve"],
                seconds,
            ),
        ),
        "confirm": (
            addresses["booking"],
            fixed_rate(
                "farebox.booking.v1.BookingService.ConfirmBooking",
                [
                    {
                        "booking_id": booking_id,
                        "payment_token": ctx.settings.payment_token,
                        "request_id": "{{.UUID}}",
                    }
                    for booking_id in booking_ids
                ],
                rates["confirm"],
                seconds,
            ),
        ),
    }
    sampler = procstat.CpuSampler(groups)
    sampler.start()
    with ThreadPoolExecutor(max_workers=len(streams)) as pool:
        futures = {
            name: pool.submit(
                driver.run,
                public.apply(options, address).with_overrides(processes=1),
                ctx.settings.template_environment,
                details=False,
            )
            for name, (address, options) in streams.items()
        }
        runs = {name: future.result() for name, future in futures.items()}
    usage = sampler.stop()
    measured = [
        Measurement(name, runs[name], usage, Target(streams[name][0], groups, access=public)) for name in runs
    ]
    calls = sum(m.count for m in measured)
    cpu_per_call = sum(usage.cpu_seconds.values()) / calls * 1e6 if calls else 0.0
    total_rps = sum(m.rps for m in measured)
    summary = {
        "rps": round(total_rps, 1),
        "rpsVsEcho": ratio(total_rps, echo.rps),
        "p50Ms": round(measured[0].latency_ms(50), 2),
        "p99Ms": round(max(m.latency_ms(99) for m in measured), 2),
        "serverUsPerRequest": round(cpu_per_call, 1),
        "cpuVsEcho": ratio(cpu_per_call, echo.server_us_per_request),
        "verdict": "machine" if max(m.run.usage.machine_busy for m in measured) >= 0.95 else "none",
        "headline": "; ".join(f"{m.label} p99 {m.latency_ms(99):.0f} ms" for m in measured),
    }
    checks = [
        Check(
            f"{m.label}: errors < 1%",
            m.error_ratio() < ERROR_LIMIT,
            f"{m.run.report['statusCodeDistribution']}",
        )
        for m in measured
    ]
    return ScenarioResult(
        scenario="steady-mix",
        summary=summary,
        measurements=measured,
        checks=checks,
        notes=[
            f"{TOTAL_RATE:.0f} req/s in total; CPU per call is every process's CPU over all calls of the mix"
        ],
        figures={
            "rates": rates,
            "trips": len(trips),
            "cpuSeconds": {group: round(s, 3) for group, s in usage.cpu_seconds.items()},
        },
        plotted=measured,
    )
