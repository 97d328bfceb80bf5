"""What every circuit breaker reports: its state as `farebox_circuit_breaker_state{downstream}` (closed
from the start, then every change) and a warning log line on each change."""

from __future__ import annotations

import pybreaker
import structlog

from common.domain_metrics import BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN, domain_metrics

log = structlog.get_logger()

_GAUGE_VALUES = {
    pybreaker.STATE_CLOSED: BREAKER_CLOSED,
    pybreaker.STATE_HALF_OPEN: BREAKER_HALF_OPEN,
    pybreaker.STATE_OPEN: BREAKER_OPEN,
}


class BreakerReport(pybreaker.CircuitBreakerListener):
    """A listener to give a breaker when it is made; `downstream` labels its gauge and log lines."""

    def __init__(self, downstream: str) -> None:
        self._downstream = downstream
        self._gauge = domain_metrics().breaker_state.labels(downstream=downstream)
        self._gauge.set(BREAKER_CLOSED)

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        log.warning(
            "breaker_state_changed",
            downstream=self._downstream,
            old=getattr(old_state, "name", None),
            new=new_state.name,
        )
        self._gauge.set(_GAUGE_VALUES[new_state.name])
