"""Driver against h2load on the echo server's plaintext port (h2load speaks cleartext HTTP/2).

Agreement: both send the same request bytes, evenly spaced at 200 req/s on one connection (well
below saturation), in alternating rounds; the driver's count and p50/p90/p99 must agree with
h2load's within 15%. The echo server's CPU per request under each client is reported too (it
should not depend on the client).

Saturation: each client flat out (the driver's 32 workers over 4 connections; h2load's 4
connections with 8 streams each), and which side ran out of CPU: the client, the echo server, or
the machine.
"""

from __future__ import annotations

import shutil

from benchmarks import descriptors, h2load, procstat
from benchmarks.calldata import CallFactory
from benchmarks.driver import descriptor_set
from benchmarks.echo_server import CALL, METHOD_PATH
from benchmarks.options import RunOptions
from benchmarks.report import PERCENTILES, percentile
from benchmarks.scenarios.context import (
    MAX_CONCURRENCY,
    MAX_CONNECTIONS,
    Check,
    Context,
    ScenarioResult,
    fixed_rate,
    headline_figures,
)
from benchmarks.scenarios.echo import ECHO_DATA, baseline, plaintext_capacity, plaintext_echo_target
from benchmarks.scenarios.measure import SATURATED_CORE_SHARE, Measurement, measure

RATE = 200.0
ROUNDS = 3
ROUND_SECONDS = 5.0
SATURATION_SECONDS = 8.0
TOLERANCE = 0.15
COMPARED = (50, 90, 99)


def _difference(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / theirs if theirs else 0.0


def _side(server_cores: float, client_cores: float) -> str:
    """Which side of a flat-out run kept a whole core busy."""
    server, client = server_cores >= SATURATED_CORE_SHARE, client_cores >= SATURATED_CORE_SHARE
    if server and client:
        return "both"
    if server or client:
        return "server" if server else "h2load"
    return "none"


def run(ctx: Context) -> ScenarioResult:
    """Our driver and h2load in alternating rounds at the same rate, then each flat out."""
    if shutil.which("h2load") is None:
        return ScenarioResult(
            "driver-vs-h2load",
            summary={},
            skipped="h2load is not installed (Debian: apt-get install -y nghttp2-client); nothing compared",
        )
    echo = baseline(ctx)
    target = plaintext_echo_target(ctx)
    seconds = ctx.seconds(ROUND_SECONDS)
    options = RunOptions(call=CALL, host=target.address, insecure=True)
    method = descriptors.resolve(descriptor_set(options, None), CALL)
    message, _ = CallFactory(method, ECHO_DATA, None, {}).prepare("g0c0", 0)
    ours: list[Measurement] = []
    theirs: list[h2load.H2loadRun] = []
    h2load_cpu = 0.0
    for round_number in range(ROUNDS):
        ours.append(
            measure(
                f"driver, {RATE:.0f} req/s, round {round_number + 1}",
                fixed_rate(CALL, ECHO_DATA, RATE, seconds).with_overrides(connections=1, processes=1),
                target,
                ctx.settings.template_environment,
            )
        )
        sampler = procstat.CpuSampler(target.groups)
        sampler.start()
        theirs.append(h2load.run(target.address, METHOD_PATH, message, RATE, 1, seconds))
        h2load_cpu += sampler.stop().cpu_seconds["service"]
    driver_count = sum(m.count for m in ours)
    h2load_count = sum(run.succeeded for run in theirs)
    driver_latencies = sorted(latency for m in ours for latency in m.run.samples.latency_ns)
    h2load_latencies = sorted(latency for run in theirs for latency in run.ok_latencies_ns())
    checks = [
        Check(
            "request count within 15% of h2load's",
            _difference(driver_count, h2load_count) <= TOLERANCE,
            f"driver {driver_count}, h2load {h2load_count} of {sum(len(run.statuses) for run in theirs)}",
        )
    ]
    differences: dict[str, float] = {}
    for percentage in COMPARED:
        mine, other = (
            percentile(driver_latencies, percentage) / 1e6,
            percentile(h2load_latencies, percentage) / 1e6,
        )
        differences[f"p{percentage}"] = round(_difference(mine, other), 3)
        checks.append(
            Check(
                f"p{percentage} within 15% of h2load's",
                _difference(mine, other) <= TOLERANCE,
                f"driver {mine:.3f} ms, h2load {other:.3f} ms ({_difference(mine, other):.0%} apart)",
            )
        )

    driver_flat = plaintext_capacity(ctx)
    sampler = procstat.CpuSampler(target.groups)
    sampler.start()
    flood = h2load.run(
        target.address,
        METHOD_PATH,
        message,
        0,
        MAX_CONNECTIONS,
        ctx.seconds(SATURATION_SECONDS),
        streams=MAX_CONCURRENCY // MAX_CONNECTIONS,
    )
    flood_usage = sampler.stop()
    flood_server_cores = flood_usage.cpu_seconds["service"] / flood.wall_seconds
    flood_side = _side(flood_server_cores, flood.cores_used)
    driver_server_cores = driver_flat.cpu_seconds("service") / driver_flat.wall_seconds

    summary = headline_figures(ours[0], echo)
    summary["p50Ms"] = round(percentile(driver_latencies, 50) / 1e6, 2)
    summary["p99Ms"] = round(percentile(driver_latencies, 99) / 1e6, 2)
    summary["headline"] = (
        "at {:.0f} req/s p50/p90/p99 driver {} ms, h2load {} ms; flat out: driver {:.0f} req/s ({} ran out "
        "of CPU), h2load {:.0f} req/s ({} ran out of CPU)"
    ).format(
        RATE,
        "/".join(f"{percentile(driver_latencies, p) / 1e6:.2f}" for p in COMPARED),
        "/".join(f"{percentile(h2load_latencies, p) / 1e6:.2f}" for p in COMPARED),
        driver_flat.rps,
        driver_flat.verdict(),
        flood.rps,
        flood_side,
    )
    driver_us = sum(m.server_cpu_seconds for m in ours) / driver_count * 1e6 if driver_count else 0.0
    h2load_us = h2load_cpu / h2load_count * 1e6 if h2load_count else 0.0
    busy = max(m.run.usage.machine_busy for m in ours)
    return ScenarioResult(
        scenario="driver-vs-h2load",
        summary=summary,
        measurements=[*ours, driver_flat],
        checks=checks,
        notes=[
            f"{ROUNDS} alternating rounds of {seconds:.0f} s each; echo server CPU per request "
            f"{driver_us:.0f} µs under the driver, {h2load_us:.0f} µs under h2load; machine busy up to "
            f"{busy:.0%} in driver rounds",
            f"flat out, driver: {driver_flat.rps:.0f} req/s, {driver_flat.verdict()} ran out of CPU (driver "
            f"busiest process {driver_flat.run.usage.busiest_process:.0%} of a core, "
            f"{driver_flat.run.usage.cores_used:.2f} cores in all; echo server {driver_server_cores:.2f} "
            f"cores); flat out, h2load: {flood.rps:.0f} req/s, {flood_side} ran out of CPU (h2load "
            f"{flood.cores_used:.2f} cores, echo server {flood_server_cores:.2f} cores)",
        ],
        figures={
            "rate": RATE,
            "differences": differences,
            "h2load": {
                "command": " ".join(theirs[0].command),
                "requests": sum(len(run.statuses) for run in theirs),
                "succeeded": h2load_count,
                "latencyMs": {str(p): percentile(h2load_latencies, p) / 1e6 for p in PERCENTILES},
                "serverUsPerRequest": round(h2load_us, 1),
            },
            "saturation": {
                "driver": {
                    "rps": round(driver_flat.rps, 1),
                    "ranOutOfCpu": driver_flat.verdict(),
                    "driverCores": round(driver_flat.run.usage.cores_used, 3),
                    "driverBusiestProcess": round(driver_flat.run.usage.busiest_process, 3),
                    "serverCores": round(driver_server_cores, 3),
                },
                "h2load": {
                    "command": " ".join(flood.command),
                    "rps": round(flood.rps, 1),
                    "ranOutOfCpu": flood_side,
                    "h2loadCores": round(flood.cores_used, 3),
                    "serverCores": round(flood_server_cores, 3),
                },
            },
        },
        plotted=ours,
    )
