"""The floor: a bare grpc.aio echo server, measured by the same driver in the same run.

The baseline is its mTLS port, reached the way the scenarios reach a service's internal port (the
booking service's client certificate), so every ratio compares like with like; its plaintext port
(which h2load drives) shows what the transport security itself costs.
"""

from __future__ import annotations

from benchmarks.echo_server import CALL
from benchmarks.scenarios.context import (
    Check,
    Context,
    ScenarioResult,
    fixed_rate,
    headline_figures,
    max_throughput,
    ratio,
)
from benchmarks.scenarios.measure import Measurement, Target, measure
from benchmarks.stack import ServiceProcess

# A constant payload about the size of a HoldSeats request.
ECHO_DATA = {"payload": "x" * 128}


def _server(ctx: Context) -> ServiceProcess:
    server: ServiceProcess = ctx.once("echo-server", ctx.stack.start_echo)
    return server


def echo_target(ctx: Context) -> Target:
    """The run's echo server (started once), its mTLS port, as a driver target."""
    server = _server(ctx)
    return Target(server.internal_address, {"service": server.pids}, access=ctx.stack.internal_access())


def plaintext_echo_target(ctx: Context) -> Target:
    """The same echo server's plaintext port."""
    server = _server(ctx)
    return Target(server.address, {"service": server.pids})


def baseline(ctx: Context) -> Measurement:
    """The echo server's maximum throughput and CPU per request over mTLS, measured once per run."""
    if ctx.echo is None:
        options = max_throughput(CALL, ECHO_DATA, ctx.seconds(8))
        ctx.echo = measure(
            "echo (mTLS), max throughput", options, echo_target(ctx), ctx.settings.template_environment
        )
    return ctx.echo


def plaintext_capacity(ctx: Context) -> Measurement:
    """The echo server's maximum throughput on its plaintext port, measured once per run."""

    def probe() -> Measurement:
        options = max_throughput(CALL, ECHO_DATA, ctx.seconds(8))
        target = plaintext_echo_target(ctx)
        return measure("echo (plaintext), max throughput", options, target, ctx.settings.template_environment)

    found: Measurement = ctx.once("echo-plaintext", probe)
    return found


def run(ctx: Context) -> ScenarioResult:
    """Maximum throughput over mTLS and in plaintext, then latency at half of the mTLS maximum."""
    echo = baseline(ctx)
    plain = plaintext_capacity(ctx)
    half = measure(
        "echo (mTLS), 50% of max",
        fixed_rate(CALL, ECHO_DATA, echo.rps / 2, ctx.seconds(8)),
        echo_target(ctx),
        ctx.settings.template_environment,
    )
    summary = headline_figures(echo, echo)
    tls_cost = ratio(echo.server_us_per_request, plain.server_us_per_request)
    summary["headline"] = (
        f"server {echo.server_us_per_request:.0f} µs CPU/req over mTLS ({plain.server_us_per_request:.0f} "
        f"plaintext, {plain.rps:.0f} req/s); p99 {half.latency_ms(99):.2f} ms at 50% load; "
        f"driver {echo.run.usage.cores_used:.2f} cores"
    )
    measured = [echo, plain, half]
    return ScenarioResult(
        scenario="echo",
        summary=summary,
        measurements=measured,
        checks=[
            Check(
                "no errors",
                all(m.error_ratio() == 0 for m in measured),
                "; ".join(f"{m.label}: {m.run.report['statusCodeDistribution']}" for m in measured),
            )
        ],
        notes=[
            f"max-throughput runs: mTLS {echo.verdict()} saturated, plaintext {plain.verdict()} saturated; "
            f"server CPU per call over mTLS is {tls_cost}x that in plaintext (TLS sessions are set up once "
            "per connection, so the difference is the record encryption)"
        ],
        figures={
            "plaintextRps": round(plain.rps, 1),
            "plaintextServerUsPerRequest": round(plain.server_us_per_request, 1),
            "mtlsVsPlaintextCpu": tls_cost,
        },
        plotted=measured,
    )
