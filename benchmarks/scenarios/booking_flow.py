"""Full bookings per second (ReserveSeats, then ConfirmBooking) through seat, payment and booking, with
a profile of the booking process.

The three services run as in production (public TLS ports with a bearer token, internal mTLS ports
between them), on one fresh database and Redis, with the sandbox provider at zero latency. The
driver reserves one seat per booking at maximum throughput for the run's length, over 20-seat
trips made beforehand (a traveller holds at most 20 seats of a trip; request n takes trip n mod T,
seat (n div T) mod 20); then it confirms every booking it reserved (their ids read from the booking
service's database), closed loop at the same concurrency. A full booking costs both phases, so the
rate is bookings confirmed over the two phases' wall time.

The profile is a second, shorter pass of both phases with cProfile on inside the booking process:
a `sitecustomize` on the process's PYTHONPATH installs SIGUSR1 (profile on) and SIGUSR2 (off, dump
the stats) handlers, so start-up and setup stay out of it and the measured pass runs unprofiled.
It counts the event loop thread's CPU time (`time.thread_time`), not wall time, so waiting for the
database or for a core shared with other processes is not charged to the code that waits.
"""

from __future__ import annotations

import os
import pstats
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import procstat
from benchmarks.scenarios.context import (
    Check,
    Context,
    ScenarioResult,
    headline_figures,
    max_throughput,
    ratio,
)
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.measure import Measurement, Target, measure
from benchmarks.scenarios.seat import STOPS, create_trip, seat_expression
from benchmarks.stack import ClientAccess, ServiceProcess
from farebox_cli.stack import dev_ticket_key

RESERVE_CALL = "farebox.booking.v1.BookingService.ReserveSeats"
CONFIRM_CALL = "farebox.booking.v1.BookingService.ConfirmBooking"
SERVICES = ("seat", "payment", "booking")
SEATS_PER_TRIP = 20
# Generous: 150 trips of 20 seats cover 3,000 reservations (250 req/s for 12 s).
RESERVATION_CAPACITY = 3000
SEED_TARGET_PER_SECOND = 500.0
PROFILE_WAIT_S = 30.0
TOP_ENTRIES = 15
REPO_ROOT = Path(__file__).resolve().parents[2]
FLOW_ENV = {
    "SEAT_MAX_SEATS_PER_HOLDER": str(SEATS_PER_TRIP),
    "BOOKING_MAX_PENDING_PER_USER": "1000000",
    "PAYMENT_SANDBOX_LATENCY": "0s",
}
PROFILE_HOOK = """import cProfile
import signal
import time

_profile = cProfile.Profile(time.thread_time)


def _profile_on(signum, frame):
    _profile.enable()


def _profile_off(signum, frame):
    _profile.disable()
    _profile.dump_stats({path!r})


signal.signal(signal.SIGUSR1, _profile_on)
signal.signal(signal.SIGUSR2, _profile_off)
"""


def launcher_environment(directory: Path, code: str) -> dict[str, str]:
    """Environment that makes a Python process run `code` at start-up (a `sitecustomize` in
    `directory`, first on its PYTHONPATH, with the repository after it)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(code)
    paths = [str(directory), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(path for path in paths if path)}


@dataclass
class Flow:
    """Seat, payment and booking on one database and Redis: their processes, the process groups to
    sample, the database, and how a caller reaches the public ports."""

    processes: dict[str, ServiceProcess]
    groups: dict[str, procstat.PidSource]
    database_url: str
    public: ClientAccess
    extra: dict[str, Any] = field(default_factory=dict)

    def target(self, service: str, access: ClientAccess | None = None) -> Target:
        """A service's public port as a driver target, sampling every process of the flow."""
        return Target(self.processes[service].address, self.groups, access=access or self.public)

    def make_trips(
        self, count: int, seats: int = SEATS_PER_TRIP, access: ClientAccess | None = None
    ) -> list[str]:
        """`count` new trips of `seats` seats, made through the seat service's public port."""
        address = self.processes["seat"].address
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda _: create_trip(address, access or self.public, seats), range(count)))

    def pending_bookings(self) -> list[str]:
        """The ids of every PENDING booking, oldest first."""
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT booking_id FROM bookings WHERE status = 'PENDING' ORDER BY create_time"
            ).fetchall()
        return [str(row[0]) for row in rows]


def start_flow(
    ctx: Context,
    name: str,
    env: dict[str, str] | None = None,
    per_service: dict[str, dict[str, str]] | None = None,
    public: ClientAccess | None = None,
) -> Flow:
    """Seat, payment and booking on a fresh database and Redis (booking calls the other two on their
    internal ports); `env` goes to all three, `per_service[name]` to one."""
    database = ctx.stack.database(f"bench_{name.replace('-', '_')}")
    redis_server = ctx.stack.redis(name)
    shared = {**FLOW_ENV, "DATABASE_URL": database.url, "REDIS_URL": redis_server.url, **(env or {})}
    processes: dict[str, ServiceProcess] = {}
    for service in SERVICES:
        own = dict(shared)
        if service == "booking":
            own |= {
                "SEAT_TARGET": processes["seat"].internal_address,
                "PAYMENT_TARGET": processes["payment"].internal_address,
                "BOOKING_TICKET_KEY": dev_ticket_key(ctx.stack.workdir),
            }
        own |= (per_service or {}).get(service, {})
        processes[service] = ctx.stack.start_service(service, f"{name}-{service}", own)
    groups: dict[str, procstat.PidSource] = {service: processes[service].pids for service in SERVICES}
    groups["redis"] = redis_server.pids
    groups["postgres"] = database.pids
    return Flow(processes, groups, database.url, public or ctx.stack.public_access())


def reserve_data(trips: list[str], seats: int = SEATS_PER_TRIP, prefix: str = "") -> list[dict[str, Any]]:
    """ReserveSeats data: one element per trip; request n takes trip n mod T, seat (n div T) mod `seats`."""
    seat = seat_expression(f"(mod (div .RequestNumber {len(trips)}) {seats})")
    return [
        {
            "trip_id": trip,
            "seat_numbers": [seat],
            "from_stop": STOPS[0][0],
            "to_stop": STOPS[-1][0],
            "passengers": [{"full_name": "Traveller {{.RequestNumber}}", "seat_number": seat}],
            "request_id": prefix + "{{.UUID}}",
        }
        for trip in trips
    ]


def confirm_data(booking_ids: list[str], payment_token: str) -> list[dict[str, Any]]:
    """ConfirmBooking data: one element per booking."""
    return [
        {"booking_id": booking_id, "payment_token": payment_token, "request_id": "{{.UUID}}"}
        for booking_id in booking_ids
    ]


@dataclass(frozen=True)
class BookingPass:
    """One pass of both phases: the reservations, then the confirmations of what was reserved."""

    reserve: Measurement
    confirm: Measurement

    @property
    def confirmed(self) -> int:
        """Bookings confirmed."""
        return self.confirm.status_count("OK")

    @property
    def wall_seconds(self) -> float:
        """Both phases' wall time."""
        return self.reserve.wall_seconds + self.confirm.wall_seconds

    @property
    def bookings_per_second(self) -> float:
        """Full bookings per second over both phases."""
        return self.confirmed / self.wall_seconds if self.wall_seconds else 0.0

    def cpu_seconds(self, group: str) -> float:
        """A group's CPU seconds over both phases."""
        return self.reserve.cpu_seconds(group) + self.confirm.cpu_seconds(group)

    def us_per_booking(self, group: str | None = None) -> float:
        """CPU µs per confirmed booking, of one group or of every server-side group."""
        groups = [group] if group else list(self.reserve.usage.cpu_seconds)
        seconds = sum(self.cpu_seconds(name) for name in groups)
        return seconds / self.confirmed * 1e6 if self.confirmed else 0.0


def booking_pass(ctx: Context, flow: Flow, label: str, seconds: float) -> BookingPass:
    """Reserves at maximum throughput for `seconds` on fresh trips, then confirms every booking."""
    trips = flow.make_trips(RESERVATION_CAPACITY // SEATS_PER_TRIP)
    target = flow.target("booking")
    reserve = measure(
        f"{label}: ReserveSeats, max throughput",
        max_throughput(RESERVE_CALL, reserve_data(trips), seconds),
        target,
        ctx.settings.template_environment,
    )
    booking_ids = flow.pending_bookings()
    options = max_throughput(CONFIRM_CALL, confirm_data(booking_ids, ctx.settings.payment_token), 0)
    confirm = measure(
        f"{label}: ConfirmBooking of {len(booking_ids)}",
        options.with_overrides(duration=0.0, total=max(1, len(booking_ids))),
        target,
        ctx.settings.template_environment,
    )
    return BookingPass(reserve, confirm)


def profile_summary(path: Path, limit: int = TOP_ENTRIES) -> dict[str, list[dict[str, Any]]]:
    """The top functions of a cProfile dump by cumulative and by own time (seconds, calls, share of
    the profiled time)."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0

    def rows(index: int) -> list[dict[str, Any]]:
        ranked = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)[:limit]
        return [
            {
                "function": _function_name(key),
                "calls": entry[1],
                "seconds": round(entry[index], 3),
                "share": round(entry[index] / total, 3),
            }
            for key, entry in ranked
        ]

    return {"cumulative": rows(3), "own": rows(2)}


def _function_name(key: tuple[str, int, str]) -> str:
    """`path:line(function)`, the path from the package on (site-packages or the repository)."""
    filename, line, function = key
    for marker in ("site-packages/", f"{REPO_ROOT}/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({function})" if line else function


def profile_hook(ctx: Context, name: str) -> tuple[dict[str, str], Path]:
    """The environment that loads the profiling hook into a process, and where its stats will land."""
    path = ctx.stack.workdir / f"{name}-{uuid.uuid4().hex[:8]}.prof"
    env = launcher_environment(ctx.stack.workdir / f"{name}-hook", PROFILE_HOOK.format(path=str(path)))
    return env, path


@contextmanager
def profiling(pid: int, path: Path) -> Iterator[None]:
    """cProfile on in process `pid` (started with `profile_hook`) for the block; the stats then in `path`."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + PROFILE_WAIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)


def run(ctx: Context) -> ScenarioResult:
    """A measured pass, then a profiled one, against the echo floor and seed document 000's target."""
    echo = baseline(ctx)
    hook, profile_path = profile_hook(ctx, "booking-profile")
    flow = start_flow(ctx, "booking-flow", per_service={"booking": hook})
    measured = booking_pass(ctx, flow, "measured", ctx.seconds(12))
    with profiling(flow.processes["booking"].popen.pid, profile_path):
        profiled = booking_pass(ctx, flow, "profiled", ctx.seconds(6))
    profile = profile_summary(profile_path) if profile_path.exists() else {}
    rate = measured.bookings_per_second
    per_group = {group: round(measured.us_per_booking(group), 1) for group in flow.groups}
    summary = headline_figures(measured.reserve, echo)
    summary |= {
        "rps": round(rate, 1),
        "rpsVsEcho": ratio(rate, echo.rps),
        "serverUsPerRequest": round(measured.us_per_booking(), 1),
        "cpuVsEcho": ratio(measured.us_per_booking(), echo.server_us_per_request),
        "headline": (
            f"{rate:.0f} full bookings/s ({rate / SEED_TARGET_PER_SECOND:.0%} of 500/s); reserve "
            f"{measured.reserve.rps:.0f}/s, confirm {measured.confirm.rps:.0f}/s; µs CPU/booking: "
            + ", ".join(f"{group} {value:.0f}" for group, value in per_group.items())
        ),
    }
    checks = [
        Check(
            "every reservation and confirmation OK",
            measured.reserve.error_ratio() == 0 and measured.confirm.error_ratio() == 0,
            f"reserve {measured.reserve.run.report['statusCodeDistribution']}, "
            f"confirm {measured.confirm.run.report['statusCodeDistribution']}",
        ),
        Check("the profile was written", bool(profile), str(profile_path)),
    ]
    top = ", ".join(f"{row['function']} {row['share']:.0%}" for row in profile.get("own", [])[:6])
    return ScenarioResult(
        scenario="booking-flow",
        summary=summary,
        measurements=[echo, measured.reserve, measured.confirm, profiled.reserve, profiled.confirm],
        checks=checks,
        notes=[
            "full bookings = confirmed over reserve + confirm wall time; reserve "
            f"{measured.reserve.verdict()} saturated, confirm {measured.confirm.verdict()} saturated",
            f"profiled pass (cProfile on in booking): {profiled.bookings_per_second:.0f} bookings/s; "
            f"top own CPU time: {top}",
        ],
        figures={
            "bookingsPerSecond": round(rate, 1),
            "seedTargetPerSecond": SEED_TARGET_PER_SECOND,
            "shareOfSeedTarget": round(rate / SEED_TARGET_PER_SECOND, 3),
            "confirmed": measured.confirmed,
            "usPerBooking": per_group,
            "coresPerBookingPerSecond": round(measured.us_per_booking() / 1e6, 6),
            "profiledBookingsPerSecond": round(profiled.bookings_per_second, 1),
            "profile": profile,
        },
        plotted=[measured.reserve, measured.confirm],
    )
