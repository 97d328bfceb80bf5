"""Every provider call goes through one circuit breaker per provider and the caller's deadline.

While the breaker is open, calls fail fast with UNAVAILABLE (reason PROVIDER_UNAVAILABLE) instead of
piling up on a provider that is down; after the reset timeout one trial call decides whether it
closes again. A call never outlives the caller's deadline (minus a margin to record the result).

Each call is counted in `farebox_payments_total` by operation and outcome (approved, declined: the
provider refused, failed: no answer), and the breaker's state in `farebox_circuit_breaker_state`
with the provider as the downstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pybreaker
import structlog

from common.breakers import BreakerReport
from common.domain_metrics import domain_metrics
from common.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from common.request_context import time_remaining
from payment_service.providers.base import PaymentProvider, ProviderRefused, ProviderUnavailable

log = structlog.get_logger()

T = TypeVar("T")

# Time kept back from the caller's deadline to record the provider's answer in the ledger.
RECORD_MARGIN_S = 0.1
# Below this much time left, a provider call is not worth starting.
MIN_CALL_S = 0.02

APPROVED = "approved"
DECLINED = "declined"
FAILED = "failed"


def _approved(_result: object) -> str:
    return APPROVED


class ProviderGuard:
    """A provider behind its circuit breaker, with every call bounded in time."""

    def __init__(
        self,
        provider: PaymentProvider,
        *,
        timeout: timedelta,
        fail_max: int,
        reset_timeout: timedelta,
    ) -> None:
        self.provider = provider
        self._timeout_s = timeout.total_seconds()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout.total_seconds(),
            exclude=[ProviderRefused],
            listeners=[BreakerReport(provider.name)],
            name=provider.name,
        )
        self._payments = domain_metrics().payments

    async def call(
        self, operation: str, call: Callable[[], Awaitable[T]], outcome: Callable[[T], str] = _approved
    ) -> T:
        """Runs one provider call; maps its failures to retryable or final domain errors.

        `outcome` names an answer's outcome (approved or declined) for the payments metric.
        """
        try:
            result = await self._call(operation, call)
        except FailedPrecondition:
            self._payments.labels(operation=operation, outcome=DECLINED).inc()
            raise
        except BaseException:
            self._payments.labels(operation=operation, outcome=FAILED).inc()
            raise
        self._payments.labels(operation=operation, outcome=outcome(result)).inc()
        return result

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        timeout_s, bounded_by_caller = self._budget()
        try:
            with self.breaker.calling():
                return await asyncio.wait_for(call(), timeout_s)
        except pybreaker.CircuitBreakerError as error:
            log.warning("provider_unavailable", provider=self.provider.name, operation=operation)
            raise Unavailable(
                f"the payment provider is unavailable; {operation} was not attempted",
                reason="PROVIDER_UNAVAILABLE",
                retry_after=timedelta(seconds=self.breaker.reset_timeout),
            ) from error
        except TimeoutError as error:
            log.warning(
                "provider_timeout", provider=self.provider.name, operation=operation, seconds=timeout_s
            )
            if bounded_by_caller:
                raise DeadlineExceeded(
                    f"the payment provider did not answer {operation} before the deadline",
                    reason="PROVIDER_TIMEOUT",
                ) from error
            raise Unavailable(
                f"the payment provider did not answer {operation} in time", reason="PROVIDER_TIMEOUT"
            ) from error
        except ProviderUnavailable as error:
            log.warning("provider_error", provider=self.provider.name, operation=operation, error=str(error))
            raise Unavailable(
                f"the payment provider failed to process {operation}; retry with the same request_id",
                reason="PROVIDER_PROCESSING_ERROR",
            ) from error
        except ProviderRefused as error:
            raise FailedPrecondition(
                f"the payment provider refused {operation}: {error}", reason=error.reason
            ) from error

    def _budget(self) -> tuple[float, bool]:
        """Seconds the call may take, and whether the caller's deadline is what limits it."""
        remaining = time_remaining()
        if remaining is None or remaining - RECORD_MARGIN_S >= self._timeout_s:
            return self._timeout_s, False
        budget = remaining - RECORD_MARGIN_S
        if budget < MIN_CALL_S:
            raise DeadlineExceeded(
                "too little time left to call the payment provider", reason="PROVIDER_TIMEOUT"
            )
        return budget, True
