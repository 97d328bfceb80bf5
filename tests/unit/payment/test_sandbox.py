"""The sandbox provider behaves like a card processor's test mode: by token, idempotent, with faults."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payment_service.domain import DeclineReason, Money
from payment_service.providers.base import AuthorizationRequest, ProviderRefused, ProviderUnavailable
from payment_service.providers.sandbox import (
    TOKEN_CAPTURE_FAILS,
    TOKEN_FRAUD,
    TOKEN_INSUFFICIENT_FUNDS,
    TOKEN_PROCESSING_ERROR,
    TOKEN_SLOW,
    TOKEN_SUCCESS,
    Faults,
    SandboxProvider,
    SandboxSettings,
)

EUR_100 = Money(10_000, "EUR")


def request(token: str, key: str = "k1", amount: Money = EUR_100) -> AuthorizationRequest:
    return AuthorizationRequest(
        idempotency_key=key, amount=amount, payment_token=token, booking_reference="BK1"
    )


@pytest.mark.parametrize(
    ("token", "decline"),
    [
        (TOKEN_SUCCESS, None),
        (TOKEN_CAPTURE_FAILS, None),
        (TOKEN_INSUFFICIENT_FUNDS, DeclineReason.INSUFFICIENT_FUNDS),
        (TOKEN_FRAUD, DeclineReason.SUSPECTED_FRAUD),
        ("tok_nonsense", DeclineReason.INVALID_TOKEN),
    ],
)
async def test_tokens_decide_the_authorization(token: str, decline: DeclineReason | None) -> None:
    sandbox = SandboxProvider()
    authorization = await sandbox.authorize(request(token))
    assert authorization.decline_reason == decline
    assert sandbox.charges == (1 if decline is None else 0)


async def test_the_processing_error_token_is_unavailable_every_time() -> None:
    sandbox = SandboxProvider()
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await sandbox.authorize(request(TOKEN_PROCESSING_ERROR))
    assert (sandbox.calls["authorize"], sandbox.charges) == (2, 0)


async def test_the_slow_token_answers_after_the_configured_delay_and_can_be_cut_off() -> None:
    sandbox = SandboxProvider(SandboxSettings(slow_delay=timedelta(seconds=60)))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sandbox.authorize(request(TOKEN_SLOW)), 0.05)
    assert sandbox.charges == 0
    quick = SandboxProvider(SandboxSettings(slow_delay=timedelta(0)))
    assert (await quick.authorize(request(TOKEN_SLOW))).approved


async def test_the_same_key_returns_the_first_answer_and_another_call_under_it_is_refused() -> None:
    sandbox = SandboxProvider()
    first = await sandbox.authorize(request(TOKEN_SUCCESS))
    assert await sandbox.authorize(request(TOKEN_SUCCESS)) == first
    assert sandbox.charges == 1
    with pytest.raises(ProviderRefused) as reused:
        await sandbox.authorize(request(TOKEN_SUCCESS, amount=Money(1, "EUR")))
    assert reused.value.reason == "PROVIDER_IDEMPOTENCY_KEY_REUSED"
    assert (await sandbox.authorize(request(TOKEN_SUCCESS, key="k2"))).reference != first.reference


async def test_capture_void_and_refund_follow_the_authorization() -> None:
    sandbox = SandboxProvider()
    reference = (await sandbox.authorize(request(TOKEN_SUCCESS))).reference
    with pytest.raises(ProviderRefused, match="over the authorization"):
        await sandbox.capture(reference, Money(10_001, "EUR"), "c0")
    await sandbox.capture(reference, Money(6_000, "EUR"), "c1")
    assert (await sandbox.capture(reference, Money(6_000, "EUR"), "c1")).reference.startswith("sbx_cap_")
    with pytest.raises(ProviderRefused, match="closed"):
        await sandbox.capture(reference, Money(1, "EUR"), "c2")
    with pytest.raises(ProviderRefused, match="captured"):
        await sandbox.void(reference, "v1")
    await sandbox.refund(reference, Money(4_000, "EUR"), "r1")
    with pytest.raises(ProviderRefused) as over:
        await sandbox.refund(reference, Money(2_001, "EUR"), "r2")
    assert over.value.reason == "REFUND_EXCEEDS_CAPTURE"
    assert sandbox.authorization(reference).refunded_minor == 4_000


async def test_the_capture_fails_token_is_refused_only_at_capture() -> None:
    sandbox = SandboxProvider()
    reference = (await sandbox.authorize(request(TOKEN_CAPTURE_FAILS))).reference
    with pytest.raises(ProviderRefused) as refused:
        await sandbox.capture(reference, EUR_100, "c1")
    assert refused.value.reason == "CAPTURE_REFUSED"
    await sandbox.void(reference, "v1")
    assert sandbox.authorization(reference).voided


async def test_injected_faults_fail_the_configured_share_of_calls_deterministically() -> None:
    async def outcomes(seed: int) -> list[bool]:
        sandbox = SandboxProvider(SandboxSettings(faults=Faults(error_rate=0.5), seed=seed))
        results: list[bool] = []
        for n in range(200):
            try:
                await sandbox.authorize(request(TOKEN_SUCCESS, key=f"k{n}"))
                results.append(True)
            except ProviderUnavailable:
                results.append(False)
        return results

    first, again = await outcomes(7), await outcomes(7)
    assert first == again
    assert 60 < first.count(False) < 140
    never = SandboxProvider(SandboxSettings(faults=Faults(error_rate=0.0)))
    assert (await never.authorize(request(TOKEN_SUCCESS))).approved


async def test_a_restarted_sandbox_adopts_references_it_does_not_know() -> None:
    sandbox = SandboxProvider()
    await sandbox.capture("sbx_auth_from_before", EUR_100, "c1")
    await sandbox.refund("sbx_auth_from_before", Money(500, "EUR"), "r1")
    assert sandbox.charges == 0
