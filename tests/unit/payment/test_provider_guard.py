"""The provider guard: breaker states, fail-fast, and calls bounded by the caller's deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pybreaker
import pytest

from common.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from common.request_context import deadline_var
from payment_service.domain import Money
from payment_service.provider_guard import ProviderGuard
from payment_service.providers.base import Authorization, AuthorizationRequest
from payment_service.providers.sandbox import (
    TOKEN_CAPTURE_FAILS,
    TOKEN_PROCESSING_ERROR,
    TOKEN_SLOW,
    TOKEN_SUCCESS,
    SandboxProvider,
    SandboxSettings,
)


def guard(sandbox: SandboxProvider, *, timeout_s: float = 5, reset_s: float = 60) -> ProviderGuard:
    return ProviderGuard(
        sandbox, timeout=timedelta(seconds=timeout_s), fail_max=2, reset_timeout=timedelta(seconds=reset_s)
    )


def authorize(sandbox: SandboxProvider, token: str, key: str = "k") -> Callable[[], Awaitable[Authorization]]:
    request = AuthorizationRequest(key, Money(1_000, "EUR"), token, "BK1")
    return lambda: sandbox.authorize(request)


@pytest.fixture
def deadline() -> Iterator[None]:
    """The caller's deadline 0.3 s from now, as the context interceptor sets it."""
    token = deadline_var.set(time.monotonic() + 0.3)
    yield
    deadline_var.reset(token)


async def test_failures_open_the_breaker_and_open_fails_fast() -> None:
    sandbox = SandboxProvider()
    guarded = guard(sandbox)
    with pytest.raises(Unavailable) as first:
        await guarded.call("authorize", authorize(sandbox, TOKEN_PROCESSING_ERROR))
    assert first.value.reason == "PROVIDER_PROCESSING_ERROR"
    with pytest.raises(Unavailable) as tripped:
        await guarded.call("authorize", authorize(sandbox, TOKEN_PROCESSING_ERROR))
    assert tripped.value.reason == "PROVIDER_UNAVAILABLE"
    assert guarded.breaker.current_state == pybreaker.STATE_OPEN
    with pytest.raises(Unavailable) as fast:
        await guarded.call("authorize", authorize(sandbox, TOKEN_SUCCESS))
    assert fast.value.reason == "PROVIDER_UNAVAILABLE" and fast.value.retry_after == timedelta(seconds=60)
    assert sandbox.calls["authorize"] == 2


async def test_a_successful_trial_after_the_reset_timeout_closes_the_breaker() -> None:
    sandbox = SandboxProvider()
    guarded = guard(sandbox, reset_s=0.1)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await guarded.call("authorize", authorize(sandbox, TOKEN_PROCESSING_ERROR))
    assert guarded.breaker.current_state == pybreaker.STATE_OPEN
    await asyncio.sleep(0.2)
    assert (await guarded.call("authorize", authorize(sandbox, TOKEN_SUCCESS))).approved
    assert guarded.breaker.current_state == pybreaker.STATE_CLOSED


async def test_refusals_are_answers_not_breaker_failures() -> None:
    sandbox = SandboxProvider()
    guarded = guard(sandbox)
    reference = (await guarded.call("authorize", authorize(sandbox, TOKEN_CAPTURE_FAILS))).reference
    for n in range(3):
        with pytest.raises(FailedPrecondition) as refused:
            await guarded.call(
                "capture", lambda n=n: sandbox.capture(reference, Money(1_000, "EUR"), f"c{n}")
            )
        assert refused.value.reason == "CAPTURE_REFUSED"
    assert guarded.breaker.current_state == pybreaker.STATE_CLOSED


async def test_a_slow_call_is_cut_at_the_callers_deadline(deadline: None) -> None:
    sandbox = SandboxProvider(SandboxSettings(slow_delay=timedelta(seconds=60)))
    guarded = guard(sandbox, timeout_s=30)
    with pytest.raises(DeadlineExceeded) as cut:
        await guarded.call("authorize", authorize(sandbox, TOKEN_SLOW))
    assert cut.value.reason == "PROVIDER_TIMEOUT"
    assert guarded.breaker.fail_counter == 1
    assert sandbox.charges == 0


async def test_a_slow_call_is_cut_at_the_provider_timeout() -> None:
    sandbox = SandboxProvider(SandboxSettings(slow_delay=timedelta(seconds=60)))
    guarded = guard(sandbox, timeout_s=0.05)
    with pytest.raises(Unavailable) as cut:
        await guarded.call("authorize", authorize(sandbox, TOKEN_SLOW))
    assert cut.value.reason == "PROVIDER_TIMEOUT"


async def test_no_call_is_started_when_the_deadline_has_passed() -> None:
    sandbox = SandboxProvider()
    token = deadline_var.set(time.monotonic() - 1)
    try:
        with pytest.raises(DeadlineExceeded):
            await guard(sandbox).call("authorize", authorize(sandbox, TOKEN_SUCCESS))
    finally:
        deadline_var.reset(token)
    assert sandbox.calls["authorize"] == 0
