"""Where the booking service records its domain metrics (the catalog is `common.domain_metrics`).

farebox_bookings_total{status}                  `BookingStore.transaction`, once a status change commits
farebox_saga_step_duration_seconds{step,outcome} `timed_step`: each saga step, and the seat hold before it
farebox_saga_compensations_total{step,outcome}  `compensation`: release_hold, void_payment,
                                                refund_payment, release_seats
farebox_circuit_breaker_state{downstream}       `common.breakers.BreakerReport` on each downstream's breaker
farebox_retries_total{downstream,method}        `retry_counter`, tenacity's before_sleep hook
farebox_outbox_lag_seconds{outbox="booking"}    `record_outbox_lag`, by the relay before each pass
farebox_idempotent_replays_total{method}        the idempotency interceptor's replay hook (server.py)

Outcomes are `succeeded` (the step or call returned) and `failed` (it raised: a downstream error,
a postponement, a lost lease).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from tenacity import RetryCallState

from booking_service.domain import BookingStatus, SagaStep
from common.domain_metrics import domain_metrics

SUCCEEDED = "succeeded"
FAILED = "failed"
OUTBOX = "booking"
HOLD_SEATS = "hold_seats"

# Saga steps named as the catalog names them; the others are their lower-case names.
_STEP_NAMES = {SagaStep.AUTHORIZE: "authorize_payment", SagaStep.CAPTURE: "capture_payment"}


def step_name(step: SagaStep) -> str:
    """The `step` label of a saga step."""
    return _STEP_NAMES.get(step, step.value.lower())


def count_statuses(statuses: Iterable[BookingStatus]) -> None:
    """Counts bookings that entered these statuses (one entry per booking and status)."""
    bookings = domain_metrics().bookings
    for status in statuses:
        bookings.labels(status=status.value.lower()).inc()


@contextmanager
def timed_step(step: str) -> Iterator[None]:
    """Observes the duration of the block as one saga step, by outcome."""
    started = time.perf_counter()
    outcome = FAILED
    try:
        yield
        outcome = SUCCEEDED
    finally:
        domain_metrics().saga_step_seconds.labels(step=step, outcome=outcome).observe(
            time.perf_counter() - started
        )


@contextmanager
def compensation(step: str) -> Iterator[None]:
    """Counts the block as one compensating call, by outcome."""
    outcome = FAILED
    try:
        yield
        outcome = SUCCEEDED
    finally:
        domain_metrics().compensations.labels(step=step, outcome=outcome).inc()


def retry_counter(downstream: str, method: str) -> Callable[[RetryCallState], None]:
    """A tenacity `before_sleep` hook that counts each retry of `method` to `downstream`."""
    retries = domain_metrics().retries.labels(downstream=downstream, method=method)

    def count(_state: RetryCallState) -> None:
        retries.inc()

    return count


def record_outbox_lag(lag: timedelta) -> None:
    """Publishes how long the oldest unpublished outbox event has waited."""
    domain_metrics().outbox_lag_seconds.labels(outbox=OUTBOX).set(lag.total_seconds())
