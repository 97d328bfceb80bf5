"""HoldSeats on a large trip against the echo floor (issue 3's targets), in one or N worker processes.

Targets on two shared cores, one service process: server CPU per hold (service + Redis +
PostgreSQL) at most 2x the echo's; throughput at least 50% of the echo's under the same driver;
p99 under 50 ms at 80% of the hold's maximum throughput.
"""

from __future__ import annotations

import time

from benchmarks.scenarios.context import (
    Check,
    Context,
    ScenarioResult,
    fixed_rate,
    headline_figures,
    max_throughput,
    ratio,
)
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.measure import Measurement, measure
from benchmarks.scenarios.seat import HOLD_CALL, SeatService, hold_data, start_seat

TRIP_SEATS = 2000
# The maximum run leaves thousands of 2 s holds behind: the 80% run starts once they have expired and
# the sweeper (every second) has freed them, so it measures the steady state, not that clean-up.
SETTLE_SECONDS = 5.0
FLOOR_CALL = "farebox.seat.v1.SeatInventoryService.GetTrip"
FLOOR_TRIP_SEATS = 4
CPU_RATIO_TARGET = 2.0
THROUGHPUT_RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0
WORKER_CONNECTIONS = 8


def hold_service(ctx: Context) -> tuple[SeatService, str]:
    """The run's single-process seat service and its large trip, started once."""

    def start() -> tuple[SeatService, str]:
        seat = start_seat(ctx, "hold-seats")
        return seat, seat.create_trip(TRIP_SEATS)

    result: tuple[SeatService, str] = ctx.once("hold-service", start)
    return result


def capacity(ctx: Context) -> Measurement:
    """HoldSeats at maximum throughput on one service process, measured once per run."""

    def probe() -> Measurement:
        seat, trip = hold_service(ctx)
        options = max_throughput(HOLD_CALL, hold_data(trip, TRIP_SEATS), ctx.seconds(8))
        found = measure("hold-seats, max throughput", options, seat.target, ctx.settings.template_environment)
        ctx.hold_capacity = found.rps
        return found

    result: Measurement = ctx.once("hold-capacity", probe)
    return result


def fixed_cost(ctx: Context, seat: SeatService) -> Measurement:
    """What every call costs the service before any work: a cached GetTrip at maximum throughput on
    the port and interceptor chain HoldSeats uses."""
    trip = seat.create_trip(FLOOR_TRIP_SEATS)
    options = max_throughput(FLOOR_CALL, {"trip_id": trip}, ctx.seconds(8))
    return measure(
        "GetTrip (cached), max throughput", options, seat.target, ctx.settings.template_environment
    )


def run(ctx: Context) -> ScenarioResult:
    """Maximum throughput, CPU per request and p99 at 80% of the maximum, against echo."""
    echo = baseline(ctx)
    top = capacity(ctx)
    seat, _ = hold_service(ctx)
    trip = seat.create_trip(TRIP_SEATS)  # fresh seats: the maximum run's last holds may still be live
    time.sleep(SETTLE_SECONDS)
    data = hold_data(trip, TRIP_SEATS)
    options = fixed_rate(HOLD_CALL, data, 0.8 * top.rps, ctx.seconds(8))
    at80 = measure("hold-seats, 80% of max", options, seat.target, ctx.settings.template_environment)
    floor = fixed_cost(ctx, seat)
    summary = headline_figures(top, echo)
    cpu_ratio = summary["cpuVsEcho"] or 0.0
    rps_ratio = summary["rpsVsEcho"] or 0.0
    parts = ", ".join(
        f"{group} {top.us_per_request(top.cpu_seconds(group)):.0f}" for group in top.target.groups
    )
    floor_us = floor.server_us_per_request
    floor_ratio = ratio(floor_us, echo.server_us_per_request)
    summary["headline"] = (
        f"p99 {at80.latency_ms(99):.1f} ms at 80% ({at80.rps:.0f} req/s); µs CPU/hold: {parts}; "
        f"a cached GetTrip through the same chain costs {floor_us:.0f} µs ({floor_ratio}x echo)"
    )
    checks = [
        Check(
            "server CPU per hold <= 2x echo",
            cpu_ratio <= CPU_RATIO_TARGET,
            f"{top.server_us_per_request:.0f} µs vs echo {echo.server_us_per_request:.0f} µs "
            f"({cpu_ratio:.2f}x)",
        ),
        Check(
            "throughput >= 50% of echo",
            rps_ratio >= THROUGHPUT_RATIO_TARGET,
            f"{top.rps:.0f} vs echo {echo.rps:.0f} req/s ({rps_ratio:.2f}x)",
        ),
        Check(
            "p99 < 50 ms at 80% of max",
            at80.latency_ms(99) < P99_TARGET_MS,
            f"p99 {at80.latency_ms(99):.1f} ms at {at80.rps:.0f} req/s",
        ),
        Check("every hold OK", top.error_ratio() == 0 and at80.error_ratio() == 0, _errors(top, at80)),
    ]
    return ScenarioResult(
        scenario="hold-seats",
        summary=summary,
        measurements=[echo, top, at80, floor],
        checks=checks,
        notes=[
            f"max-throughput runs: echo {echo.verdict()}, hold-seats {top.verdict()} saturated",
            f"the service's fixed cost per call: GetTrip of a {FLOOR_TRIP_SEATS}-seat trip (served from the "
            f"trip cache, no Redis or PostgreSQL) on the same port and chain, {floor.rps:.0f} req/s at "
            f"{floor_us:.0f} µs server CPU per call ({floor_ratio}x echo); "
            f"a hold's work beyond that: {top.server_us_per_request - floor_us:.0f} µs",
        ],
        figures={
            "trip": trip,
            "tripSeats": TRIP_SEATS,
            "cpuRatio": cpu_ratio,
            "throughputRatio": rps_ratio,
            "fixedCostUsPerCall": round(floor_us, 1),
            "fixedCostVsEcho": floor_ratio,
        },
        plotted=[top, at80],
    )


def run_workers(ctx: Context) -> ScenarioResult:
    """The N-worker mode (SO_REUSEPORT) at maximum throughput, against one worker."""
    echo = baseline(ctx)
    single = capacity(ctx)
    seat = start_seat(ctx, "hold-seats-workers", workers=ctx.workers)
    trip = seat.create_trip(TRIP_SEATS)
    options = max_throughput(HOLD_CALL, hold_data(trip, TRIP_SEATS), ctx.seconds(8))
    options = options.with_overrides(connections=WORKER_CONNECTIONS)
    multi = measure(
        f"hold-seats, {ctx.workers} workers, max", options, seat.target, ctx.settings.template_environment
    )
    summary = headline_figures(multi, echo)
    gain = multi.rps / single.rps if single.rps else 0.0
    summary["headline"] = (
        f"{ctx.workers} workers: {multi.rps:.0f} vs 1 worker {single.rps:.0f} req/s ({gain:.2f}x); "
        f"driver {multi.run.usage.cores_used:.2f} cores"
    )
    return ScenarioResult(
        scenario="hold-seats-workers",
        summary=summary,
        measurements=[echo, single, multi],
        checks=[Check("every hold OK", multi.error_ratio() == 0, _errors(multi))],
        notes=[
            f"with {ctx.workers} workers: {multi.verdict()} saturated; throughput can only grow with the "
            "cores the driver leaves free"
        ],
        figures={"workers": ctx.workers, "gainOverOneWorker": round(gain, 3)},
        plotted=[multi],
    )


def _errors(*measurements: Measurement) -> str:
    parts = [
        f"{m.label}: {m.count - m.status_count('OK')} of {m.count} failed "
        f"{m.run.report['statusCodeDistribution']}"
        for m in measurements
    ]
    return "; ".join(parts)
