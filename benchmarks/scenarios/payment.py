"""AuthorizePayment + CapturePayment pairs per second on the payment service's internal port.

The payment service runs alone on a fresh database and Redis with the sandbox provider at zero
latency; the driver calls its internal mTLS port with the booking service's client certificate,
as the booking service does. A pair needs the authorization's payment id, which the driver cannot
carry from one call to the next, so the run has two phases at the same concurrency: authorizations
(card `tok_success`, a booking reference and an idempotency key per call) at maximum throughput,
then one capture of each authorized payment (ids read from the payment service's database). Pairs
per second are the captures over both phases' wall time; CPU per pair adds both phases.
"""

from __future__ import annotations

from typing import Any

import psycopg

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

AUTHORIZE_CALL = "farebox.payment.v1.PaymentService.AuthorizePayment"
CAPTURE_CALL = "farebox.payment.v1.PaymentService.CapturePayment"
CARD = "tok_success"
AMOUNT = {"amount_minor": 1500, "currency_code": "EUR"}


def authorize_data() -> dict[str, Any]:
    """AuthorizePayment data: a booking reference and an idempotency key per call."""
    return {
        "booking_reference": "bench-{{.RequestNumber}}-{{.UUID}}",
        "amount": AMOUNT,
        "payment_token": CARD,
        "request_id": "{{.UUID}}",
    }


def capture_data(payment_ids: list[str]) -> list[dict[str, Any]]:
    """CapturePayment data: one element per payment, captured in full."""
    return [{"payment_id": payment_id, "request_id": "{{.UUID}}"} for payment_id in payment_ids]


def authorized_payments(database_url: str) -> list[str]:
    """The ids of every AUTHORIZED payment, oldest first."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT payment_id FROM payments WHERE status = 'AUTHORIZED' ORDER BY created_at"
        ).fetchall()
    return [str(row[0]) for row in rows]


def pairs_per_second(authorize: Measurement, capture: Measurement) -> float:
    """Captured pairs over both phases' wall time."""
    wall = authorize.wall_seconds + capture.wall_seconds
    return capture.status_count("OK") / wall if wall else 0.0


def us_per_pair(authorize: Measurement, capture: Measurement) -> float:
    """Server CPU µs per captured pair, both phases together."""
    pairs = capture.status_count("OK")
    return (authorize.server_cpu_seconds + capture.server_cpu_seconds) / pairs * 1e6 if pairs else 0.0


def run(ctx: Context) -> ScenarioResult:
    """Authorizations at maximum throughput, then a capture of each, against the echo floor."""
    echo = baseline(ctx)
    database = ctx.stack.database("bench_payment_pairs")
    redis_server = ctx.stack.redis("payment-pairs")
    env = {"DATABASE_URL": database.url, "REDIS_URL": redis_server.url, "PAYMENT_SANDBOX_LATENCY": "0s"}
    process = ctx.stack.start_service("payment", "payment-pairs", env)
    groups = {"service": process.pids, "redis": redis_server.pids, "postgres": database.pids}
    target = Target(process.internal_address, groups, access=ctx.stack.internal_access())
    authorize = measure(
        "AuthorizePayment, max throughput",
        max_throughput(AUTHORIZE_CALL, authorize_data(), ctx.seconds(10)),
        target,
        ctx.settings.template_environment,
    )
    payment_ids = authorized_payments(database.url)
    capture = measure(
        f"CapturePayment of {len(payment_ids)}",
        max_throughput(CAPTURE_CALL, capture_data(payment_ids), 0).with_overrides(
            duration=0.0, total=max(1, len(payment_ids))
        ),
        target,
        ctx.settings.template_environment,
    )
    pairs = pairs_per_second(authorize, capture)
    cpu = us_per_pair(authorize, capture)
    summary = headline_figures(authorize, echo)
    summary |= {
        "rps": round(pairs, 1),
        "rpsVsEcho": ratio(pairs, echo.rps),
        "serverUsPerRequest": round(cpu, 1),
        "cpuVsEcho": ratio(cpu, echo.server_us_per_request),
        "headline": (
            f"{pairs:.0f} pairs/s ({ratio(pairs, echo.rps)}x echo); authorize {authorize.rps:.0f}/s "
            f"p99 {authorize.latency_ms(99):.1f} ms, capture {capture.rps:.0f}/s p99 "
            f"{capture.latency_ms(99):.1f} ms; {cpu:.0f} µs CPU/pair"
        ),
    }
    return ScenarioResult(
        scenario="payment-pairs",
        summary=summary,
        measurements=[echo, authorize, capture],
        checks=[
            Check(
                "every authorization and capture OK",
                authorize.error_ratio() == 0 and capture.error_ratio() == 0,
                f"authorize {authorize.run.report['statusCodeDistribution']}, "
                f"capture {capture.run.report['statusCodeDistribution']}",
            ),
            Check(
                "every authorization was captured",
                capture.status_count("OK") == authorize.status_count("OK"),
                f"{capture.status_count('OK')} captured of {authorize.status_count('OK')} authorized",
            ),
        ],
        notes=[
            "a pair is an authorization and its capture; the two run as phases (the driver cannot pass "
            f"the payment id along); authorize {authorize.verdict()} saturated, capture {capture.verdict()} "
            "saturated",
        ],
        figures={
            "pairsPerSecond": round(pairs, 1),
            "authorizeRps": round(authorize.rps, 1),
            "captureRps": round(capture.rps, 1),
            "usPerPair": round(cpu, 1),
            "usPerPairByGroup": {
                group: round(
                    (authorize.cpu_seconds(group) + capture.cpu_seconds(group))
                    / max(1, capture.status_count("OK"))
                    * 1e6,
                    1,
                )
                for group in groups
            },
        },
        plotted=[authorize, capture],
    )
