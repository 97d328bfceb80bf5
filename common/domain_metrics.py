"""The catalog of Farebox's domain metrics: names, help and labels that alerts, dashboards and KEDA read.

The names are a contract: rename one and an alert or a scaler goes quiet. Label values are
bounded, stable strings, listed in each help text; never an id. Gauges say how a pod's worker
processes combine (see `common.metrics`).

Name                                     kind       labels               worker processes
farebox_seat_holds_won_total             counter    -                    summed
farebox_seat_holds_rejected_total        counter    reason               summed
farebox_seat_holds_active                gauge      -                    latest reading
farebox_seats_sold_total                 counter    -                    summed
farebox_bookings_total                   counter    status               summed
farebox_saga_step_duration_seconds       histogram  step, outcome        summed
farebox_saga_compensations_total         counter    step, outcome        summed
farebox_payments_total                   counter    operation, outcome   summed
farebox_circuit_breaker_state            gauge      downstream           worst live worker
farebox_retries_total                    counter    downstream, method   summed
farebox_idempotent_replays_total         counter    method               summed
farebox_rate_limit_rejections_total      counter    method               summed
farebox_outbox_lag_seconds               gauge      outbox               worst live worker
farebox_redis_rebuilds_total             counter    reason               summed
farebox_oversold_seat_segments           gauge      -                    latest audit
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import Counter, Gauge, Histogram

# farebox_circuit_breaker_state values.
BREAKER_CLOSED = 0
BREAKER_HALF_OPEN = 1
BREAKER_OPEN = 2


@dataclass(frozen=True)
class DomainMetrics:
    """Every domain metric of the suite; each service records the ones it owns."""

    holds_won: Counter
    holds_rejected: Counter
    holds_active: Gauge
    seats_sold: Counter
    bookings: Counter
    saga_step_seconds: Histogram
    compensations: Counter
    payments: Counter
    breaker_state: Gauge
    retries: Counter
    idempotent_replays: Counter
    rate_limit_rejections: Counter
    outbox_lag_seconds: Gauge
    redis_rebuilds: Counter
    oversold_seat_segments: Gauge


@cache
def domain_metrics() -> DomainMetrics:
    """The catalog, registered on the default registry on first use."""
    return DomainMetrics(
        holds_won=Counter("farebox_seat_holds_won_total", "Seat holds granted."),
        holds_rejected=Counter(
            "farebox_seat_holds_rejected_total",
            "Seat holds refused, by ErrorInfo reason (SEAT_UNAVAILABLE, RATE_LIMITED, ...).",
            ["reason"],
        ),
        holds_active=Gauge(
            "farebox_seat_holds_active",
            "Seat holds currently active (not committed, released or expired), as last counted.",
            multiprocess_mode="livemostrecent",
        ),
        seats_sold=Counter("farebox_seats_sold_total", "Seats sold: committed holds, counted per seat."),
        bookings=Counter(
            "farebox_bookings_total",
            "Bookings entering a status: pending, confirming, confirmed, payment_failed, cancelled, expired.",
            ["status"],
        ),
        saga_step_seconds=Histogram(
            "farebox_saga_step_duration_seconds",
            "Duration of one booking-saga step (hold_seats, authorize_payment, commit_hold, capture_payment, "
            "resolve, return_payment, release_seats), by outcome: succeeded or failed.",
            ["step", "outcome"],
        ),
        compensations=Counter(
            "farebox_saga_compensations_total",
            "Compensations run by the booking saga (release_hold, void_payment, refund_payment, "
            "release_seats), by outcome: succeeded or failed; the refund of a cancellation is not one.",
            ["step", "outcome"],
        ),
        payments=Counter(
            "farebox_payments_total",
            "Payment operations (authorize, capture, void, refund) by outcome: approved, declined or failed.",
            ["operation", "outcome"],
        ),
        breaker_state=Gauge(
            "farebox_circuit_breaker_state",
            "Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open.",
            ["downstream"],
            multiprocess_mode="livemax",
        ),
        retries=Counter(
            "farebox_retries_total",
            "Calls retried to a downstream (seat, payment, postgres, redis), by gRPC method or operation.",
            ["downstream", "method"],
        ),
        idempotent_replays=Counter(
            "farebox_idempotent_replays_total",
            "Requests answered from the stored response of an earlier one with the same request_id.",
            ["method"],
        ),
        rate_limit_rejections=Counter(
            "farebox_rate_limit_rejections_total",
            "Requests refused with RESOURCE_EXHAUSTED by the rate limiter.",
            ["method"],
        ),
        outbox_lag_seconds=Gauge(
            "farebox_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event, 0 when the outbox is empty, per outbox (service).",
            ["outbox"],
            multiprocess_mode="livemax",
        ),
        redis_rebuilds=Counter(
            "farebox_redis_rebuilds_total",
            "Rebuilds of Redis seat state from PostgreSQL, by reason: startup, missing, drift.",
            ["reason"],
        ),
        oversold_seat_segments=Gauge(
            "farebox_oversold_seat_segments",
            "Seat segments sold more than once, as found by the last audit. Must always be 0.",
            multiprocess_mode="mostrecent",
        ),
    )
