"""GetSeatMap and ReserveSeats through the REST gateway against direct gRPC, in the same run.

Seat, payment and booking run as in production (see `booking_flow`), and the gateway in front of
them calls their internal mTLS ports with its own certificate, passing the caller's bearer token on.
Every request carries the same traveller's token; every run keeps 32 requests in flight, closed
loop, for the same time, while the CPU of every process (gateway, services, Redis, PostgreSQL) is
sampled:

- GetSeatMap: h2load on both sides, so the client is the same program: gRPC over TLS to the seat
  service's public port (HTTP/2, 4 connections x 8 streams, the pre-encoded request) against
  `GET /v1/trips/{id}/seat-map` on the gateway (HTTP/1.1, 32 connections).
- ReserveSeats needs a different seat per request, which h2load cannot vary: this driver on the
  booking service's public port (templated data) against wrk on `POST /v1/bookings` (32
  connections), whose Lua script writes each body (trip n mod T, seat (n div T) mod 20). The two
  clients differ in their own CPU use; the server CPU per request does not depend on the client.

The target: the HTTP hop costs at most 35% of direct-gRPC throughput (HTTP >= 0.65x gRPC). Where
the rest goes: one more GetSeatMap pass through the gateway with cProfile on in the gateway process
(see `booking_flow.profiling`), after the measured runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farebox.seat.v1 import seat_inventory_service_pb2 as seat_api

from benchmarks import procstat
from benchmarks.h2load import H2loadRun, grpc_frame
from benchmarks.report import percentile
from benchmarks.scenarios.booking_flow import (
    RESERVE_CALL,
    SEATS_PER_TRIP,
    Flow,
    profile_hook,
    profile_summary,
    profiling,
    reserve_data,
    start_flow,
)
from benchmarks.scenarios.context import Check, Context, ScenarioResult, max_throughput, ratio
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.measure import Measurement, Target, measure
from benchmarks.scenarios.seat import STOPS
from benchmarks.stack import START_TIMEOUT_S, ServiceProcess, StackError, free_port
from farebox_cli.certs import certificate_paths

SEAT_MAP_PATH = "/farebox.seat.v1.SeatInventoryService/GetSeatMap"
IN_FLIGHT = 32
GRPC_CONNECTIONS = 4
HTTP_COST_LIMIT = 0.35
RESERVATIONS = 3000
WRK_SCRIPT = """local trips = {{{trips}}}
local counter = 0
local columns = {{"A", "B", "C", "D"}}
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "{authorization}"}}

request = function()
  local n = counter
  counter = counter + 1
  local trip = trips[(n % #trips) + 1]
  local k = math.floor(n / #trips) % {seats}
  local seat = string.format("%d%s", math.floor(k / 4) + 1, columns[(k % 4) + 1])
  local body = string.format(
    '{{"tripId":"%s","seatNumbers":["%s"],"fromStop":"{origin}","toStop":"{destination}",'
      .. '"passengers":[{{"fullName":"Traveller %d","seatNumber":"%s"}}],"requestId":"wrk-%d"}}',
    trip, seat, n, seat, n)
  return wrk.format("POST", "/v1/bookings", headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '\\nWRK_RESULT {{"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,'
      .. '"p50Us":%d,"p99Us":%d}}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class HttpRun:
    """A run by h2load or wrk: requests, failures, wall time, p50/p99, and the server CPU per group."""

    label: str
    requests: int
    failed: int
    wall_seconds: float
    p50_ms: float
    p99_ms: float
    usage: procstat.Usage

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.failed) / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def server_us_per_request(self) -> float:
        """Server CPU µs per request, every group."""
        return sum(self.usage.cpu_seconds.values()) / self.requests * 1e6 if self.requests else 0.0

    def us_per_request(self, group: str) -> float:
        """One group's CPU µs per request."""
        return self.usage.cpu_seconds.get(group, 0.0) / self.requests * 1e6 if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        """The run for the result file."""
        return {
            "label": self.label,
            "requests": self.requests,
            "failed": self.failed,
            "rps": round(self.rps, 1),
            "p50Ms": round(self.p50_ms, 2),
            "p99Ms": round(self.p99_ms, 2),
            "serverUsPerRequest": round(self.server_us_per_request, 1),
            "cpuUsPerRequest": {
                group: round(self.us_per_request(group), 1) for group in self.usage.cpu_seconds
            },
        }


def start_gateway(ctx: Context, flow: Flow, extra: dict[str, str]) -> ServiceProcess:
    """`python -m gateway` in front of the flow's internal ports, with the gateway's certificate and
    `extra`, once /readyz answers 200."""
    port = free_port()
    env = {
        **extra,
        **certificate_paths(ctx.stack.workdir, "gateway").environment(),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_METRICS_PORT": "0",
        "SEAT_TARGET": flow.processes["seat"].internal_address,
        "BOOKING_TARGET": flow.processes["booking"].internal_address,
        "PAYMENT_TARGET": flow.processes["payment"].internal_address,
    }
    log_path = ctx.stack.workdir / "gateway.log"
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    gateway = ServiceProcess("gateway", f"127.0.0.1:{port}", popen, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if popen.poll() is not None or time.monotonic() > deadline:
            gateway.stop()
            raise StackError(f"gateway did not become ready:\n{log_path.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{gateway.address}/readyz", timeout=1.0) as answer:
                if answer.status == 200:
                    return gateway
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)


def h2load_argv(url: str, headers: dict[str, str], clients: int, streams: int, seconds: float) -> list[str]:
    """h2load flat out for `seconds` (`streams` 1 and an http:// URL: HTTP/1.1)."""
    executable = shutil.which("h2load")
    if executable is None:
        raise StackError("h2load not found: apt-get install -y nghttp2-client")
    argv = [executable, "-c", str(clients), "-m", str(streams), "-D", f"{round(seconds * 1000)}ms"]
    if url.startswith("http://"):
        argv.append("--h1")
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return [*argv, url]


def run_h2load(
    label: str, argv: list[str], body: bytes | None, groups: dict[str, procstat.PidSource]
) -> HttpRun:
    """Runs h2load (with `body` as its data file) while sampling `groups`; reads its per-request log."""
    with tempfile.TemporaryDirectory(prefix="farebox-h2load-") as folder:
        log_file = Path(folder) / "requests.tsv"
        extra = ["--log-file", str(log_file)]
        if body is not None:
            (Path(folder) / "body.bin").write_bytes(body)
            extra += ["-d", str(Path(folder) / "body.bin")]
        sampler = procstat.CpuSampler(groups)
        sampler.start()
        started = time.monotonic()
        done = subprocess.run([*argv[:-1], *extra, argv[-1]], capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        usage = sampler.stop()
        if done.returncode != 0:
            raise StackError(f"h2load exited {done.returncode}: {done.stderr or done.stdout}")
        rows = [line.split("\t") for line in log_file.read_text().splitlines()]
        statuses = [int(fields[1]) for fields in rows if len(fields) >= 3]
        latencies = [int(fields[2]) * 1000 for fields in rows if len(fields) >= 3]
    result = H2loadRun(argv, statuses, latencies, done.stdout, 0.0, wall)
    failed = len(statuses) - result.succeeded
    return HttpRun(
        label, len(statuses), failed, wall, result.percentile_ms(50), result.percentile_ms(99), usage
    )


def wrk_script(trips: list[str], authorization: str, seats: int = SEATS_PER_TRIP) -> str:
    """wrk's Lua script: a different seat per request, then a WRK_RESULT JSON line at the end."""
    return WRK_SCRIPT.format(
        trips=", ".join(f'"{trip}"' for trip in trips),
        authorization=authorization,
        seats=seats,
        origin=STOPS[0][0],
        destination=STOPS[-1][0],
    )


def wrk_result(output: str) -> dict[str, int]:
    """The figures of the script's WRK_RESULT line."""
    for line in output.splitlines():
        if line.startswith("WRK_RESULT "):
            figures: dict[str, int] = json.loads(line.removeprefix("WRK_RESULT "))
            return figures
    raise StackError(f"wrk printed no result:\n{output[-2000:]}")


def run_wrk(
    label: str, url: str, script: str, seconds: float, groups: dict[str, procstat.PidSource]
) -> HttpRun:
    """wrk with one thread (the script's counter is per thread) and 32 connections."""
    executable = shutil.which("wrk")
    if executable is None:
        raise StackError("wrk not found: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="farebox-wrk-") as folder:
        path = Path(folder) / "reserve.lua"
        path.write_text(script)
        argv = [executable, "-t1", f"-c{IN_FLIGHT}", f"-d{max(1, round(seconds))}s", "-s", str(path), url]
        sampler = procstat.CpuSampler(groups)
        sampler.start()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        usage = sampler.stop()
    if done.returncode != 0:
        raise StackError(f"wrk exited {done.returncode}: {done.stderr or done.stdout}")
    figures = wrk_result(done.stdout)
    return HttpRun(
        label,
        figures["requests"],
        figures["non2xx"] + figures["socketErrors"],
        figures["durationUs"] / 1e6,
        figures["p50Us"] / 1000,
        figures["p99Us"] / 1000,
        usage,
    )


def driver_run(label: str, measurement: Measurement) -> HttpRun:
    """A driver measurement in the same shape as the HTTP runs."""
    samples = sorted(measurement.run.samples.latency_ns)
    return HttpRun(
        label,
        measurement.count,
        measurement.count - measurement.status_count("OK"),
        measurement.wall_seconds,
        percentile(samples, 50) / 1e6,
        percentile(samples, 99) / 1e6,
        measurement.usage,
    )


def compare(grpc_run: HttpRun, http_run: HttpRun) -> dict[str, Any]:
    """HTTP against gRPC: throughput and p99 ratios, the hop's cost, CPU per request."""
    return {
        "grpc": grpc_run.to_json(),
        "http": http_run.to_json(),
        "throughputRatio": ratio(http_run.rps, grpc_run.rps),
        "hopCost": round(1 - http_run.rps / grpc_run.rps, 3) if grpc_run.rps else None,
        "p99Ratio": ratio(http_run.p99_ms, grpc_run.p99_ms),
        "cpuRatio": ratio(http_run.server_us_per_request, grpc_run.server_us_per_request),
        "gatewayUsPerRequest": round(http_run.us_per_request("gateway"), 1),
    }


def run(ctx: Context) -> ScenarioResult:
    """GetSeatMap (h2load both ways) and ReserveSeats (driver vs wrk), direct gRPC against the gateway."""
    echo = baseline(ctx)
    flow = start_flow(ctx, "gateway")
    hook, profile_path = profile_hook(ctx, "gateway-profile")
    gateway = start_gateway(ctx, flow, hook)
    try:
        groups: dict[str, procstat.PidSource] = {"gateway": gateway.pids, **flow.groups}
        seconds = ctx.seconds(10)
        authorization = flow.public.metadata["authorization"]
        browse_trip = flow.make_trips(1)[0]
        trips = {side: flow.make_trips(RESERVATIONS // SEATS_PER_TRIP) for side in ("grpc", "http")}
        request = seat_api.GetSeatMapRequest(trip_id=browse_trip, from_stop=STOPS[0][0], to_stop=STOPS[-1][0])
        grpc_headers = {"content-type": "application/grpc", "te": "trailers", "authorization": authorization}
        seat_map_http = h2load_argv(
            f"http://{gateway.address}/v1/trips/{browse_trip}/seat-map"
            f"?fromStop={STOPS[0][0]}&toStop={STOPS[-1][0]}",
            {"authorization": authorization},
            IN_FLIGHT,
            1,
            seconds,
        )
        seat_map = {
            "grpc": run_h2load(
                "GetSeatMap, gRPC (h2load)",
                h2load_argv(
                    f"https://{flow.processes['seat'].address}{SEAT_MAP_PATH}",
                    grpc_headers,
                    GRPC_CONNECTIONS,
                    IN_FLIGHT // GRPC_CONNECTIONS,
                    seconds,
                ),
                grpc_frame(request.SerializeToString()),
                groups,
            ),
            "http": run_h2load(
                "GetSeatMap, HTTP/JSON via gateway (h2load --h1)", seat_map_http, None, groups
            ),
        }
        direct = measure(
            "ReserveSeats, gRPC (driver)",
            max_throughput(RESERVE_CALL, reserve_data(trips["grpc"]), seconds),
            Target(flow.processes["booking"].address, groups, access=flow.public),
            ctx.settings.template_environment,
        )
        reserve = {
            "grpc": driver_run(direct.label, direct),
            "http": run_wrk(
                "ReserveSeats, HTTP/JSON via gateway (wrk)",
                f"http://{gateway.address}/v1/bookings",
                wrk_script(trips["http"], authorization),
                seconds,
                groups,
            ),
        }
        with profiling(gateway.popen.pid, profile_path):
            run_h2load("GetSeatMap via gateway, profiled", seat_map_http, None, groups)
    finally:
        gateway.stop()
    figures = {
        "getSeatMap": compare(seat_map["grpc"], seat_map["http"]),
        "reserveSeats": compare(reserve["grpc"], reserve["http"]),
        "gatewayProfile": profile_summary(profile_path) if profile_path.exists() else {},
    }
    runs = [*seat_map.values(), *reserve.values()]
    return ScenarioResult(
        scenario="gateway",
        summary={
            "rps": round(seat_map["http"].rps, 1),
            "rpsVsEcho": ratio(seat_map["http"].rps, echo.rps),
            "p50Ms": round(seat_map["http"].p50_ms, 2),
            "p99Ms": round(seat_map["http"].p99_ms, 2),
            "serverUsPerRequest": round(seat_map["http"].server_us_per_request, 1),
            "cpuVsEcho": ratio(seat_map["http"].server_us_per_request, echo.server_us_per_request),
            "verdict": "machine" if max(r.usage.machine_busy for r in runs) >= 0.95 else "none",
            "headline": "; ".join(
                f"{name} HTTP/gRPC throughput {figures[key]['throughputRatio']}x, "
                f"p99 {figures[key]['p99Ratio']}x, "
                f"gateway {figures[key]['gatewayUsPerRequest']:.0f} µs CPU/req"
                for name, key in (("GetSeatMap", "getSeatMap"), ("ReserveSeats", "reserveSeats"))
            ),
        },
        measurements=[echo, direct],
        checks=[
            *(
                Check(
                    f"{name}: HTTP hop costs <= 35% of gRPC throughput",
                    (figures[key]["hopCost"] or 0.0) <= HTTP_COST_LIMIT,
                    f"HTTP {figures[key]['http']['rps']} vs gRPC {figures[key]['grpc']['rps']} req/s",
                )
                for name, key in (("GetSeatMap", "getSeatMap"), ("ReserveSeats", "reserveSeats"))
            ),
            Check(
                "every request OK",
                all(r.failed == 0 for r in runs),
                "; ".join(f"{r.label}: {r.failed} of {r.requests} failed" for r in runs),
            ),
        ],
        notes=[
            "GetSeatMap: h2load both ways (gRPC over TLS, 4 connections x 8 streams; HTTP/1.1, 32 "
            "connections); ReserveSeats: this driver (gRPC) vs wrk (HTTP/1.1), 32 in flight each; "
            "CPU per request counts the gateway, the services, Redis and PostgreSQL; the gateway's profile "
            "comes from one more GetSeatMap pass with cProfile on in the gateway process"
        ],
        figures=figures,
        plotted=[direct],
    )
