"""The sandbox provider: a card processor's test mode, deterministic by payment token.

Tokens (see payment_service/README.md): `tok_success`, `tok_insufficient_funds`, `tok_fraud`,
`tok_processing_error`, `tok_slow`, `tok_capture_fails`; any other token is declined as invalid.
Global faults (latency, error rate) apply to every call first. Like a real PSP it honours
idempotency keys and refuses captures over the authorization and refunds over the capture. State
lives in memory: a restarted sandbox treats a reference it does not know as an approved
authorization of its own, so flows begun before a restart can finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeVar

import structlog

from payment_service.domain import DeclineReason, Money
from payment_service.providers.base import (
    Authorization,
    AuthorizationRequest,
    PaymentProvider,
    ProviderRefused,
    ProviderUnavailable,
    Receipt,
)

log = structlog.get_logger()

T = TypeVar("T")

TOKEN_SUCCESS = "tok_success"
TOKEN_INSUFFICIENT_FUNDS = "tok_insufficient_funds"
TOKEN_FRAUD = "tok_fraud"
TOKEN_PROCESSING_ERROR = "tok_processing_error"
TOKEN_SLOW = "tok_slow"
TOKEN_CAPTURE_FAILS = "tok_capture_fails"

_DECLINES = {
    TOKEN_INSUFFICIENT_FUNDS: DeclineReason.INSUFFICIENT_FUNDS,
    TOKEN_FRAUD: DeclineReason.SUSPECTED_FRAUD,
}
_APPROVED = {TOKEN_SUCCESS, TOKEN_SLOW, TOKEN_CAPTURE_FAILS}
_UNKNOWN_LIMIT = 2**62


@dataclass(frozen=True)
class Faults:
    """Faults injected into every call: added latency, and a share of calls failing as unavailable."""

    latency: timedelta = timedelta(0)
    error_rate: float = 0.0


@dataclass(frozen=True)
class SandboxSettings:
    """The sandbox's faults, the delay of `tok_slow`, and the seed of its fault dice."""

    faults: Faults = Faults()
    slow_delay: timedelta = timedelta(seconds=5)
    seed: int = 0


@dataclass(frozen=True)
class SandboxAuthorization:
    """What the sandbox knows of one authorization."""

    amount: Money
    token: str
    captured_minor: int = 0
    refunded_minor: int = 0
    voided: bool = False
    adopted: bool = False


@dataclass
class _Remembered:
    fingerprint: tuple[object, ...]
    result: object


class SandboxProvider(PaymentProvider):
    """An in-memory card processor for tests, local runs and benchmarks.

    `faults` may be replaced at run time (chaos tests); `calls` counts the calls that reached it.
    """

    name = "sandbox"

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.faults = self.settings.faults
        self.calls: Counter[str] = Counter()
        self._random = random.Random(self.settings.seed)
        self._authorizations: dict[str, SandboxAuthorization] = {}
        self._keys: dict[str, _Remembered] = {}

    @property
    def charges(self) -> int:
        """How many distinct authorizations this sandbox approved."""
        return sum(not known.adopted for known in self._authorizations.values())

    def authorization(self, reference: str) -> SandboxAuthorization | None:
        """The sandbox's view of an authorization, for audits."""
        return self._authorizations.get(reference)

    async def authorize(self, request: AuthorizationRequest) -> Authorization:
        """Approves or declines by token; `tok_slow` answers after the configured delay."""
        await self._enter("authorize")
        if request.payment_token == TOKEN_PROCESSING_ERROR:
            raise ProviderUnavailable("sandbox: processing error, try again")
        if request.payment_token == TOKEN_SLOW:
            await asyncio.sleep(self.settings.slow_delay.total_seconds())
        fingerprint = ("authorize", request.amount, request.payment_token, request.booking_reference)
        return self._once(request.idempotency_key, fingerprint, lambda: self._decide(request))

    async def capture(self, authorization: str, amount: Money, idempotency_key: str) -> Receipt:
        """Captures once, at most the authorized amount; `tok_capture_fails` is refused here."""
        await self._enter("capture")
        return self._once(
            idempotency_key,
            ("capture", authorization, amount),
            lambda: self._capture(authorization, amount, idempotency_key),
        )

    async def void(self, authorization: str, idempotency_key: str) -> Receipt:
        """Releases an uncaptured authorization."""
        await self._enter("void")
        return self._once(
            idempotency_key, ("void", authorization), lambda: self._void(authorization, idempotency_key)
        )

    async def refund(self, authorization: str, amount: Money, idempotency_key: str) -> Receipt:
        """Refunds captured money; the refunds never exceed the capture."""
        await self._enter("refund")
        return self._once(
            idempotency_key,
            ("refund", authorization, amount),
            lambda: self._refund(authorization, amount, idempotency_key),
        )

    async def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        faults = self.faults
        if faults.latency > timedelta(0):
            await asyncio.sleep(faults.latency.total_seconds())
        if faults.error_rate > 0 and self._random.random() < faults.error_rate:
            log.info("sandbox_fault_injected", operation=operation)
            raise ProviderUnavailable(f"sandbox: injected fault on {operation}")

    def _once(self, key: str, fingerprint: tuple[object, ...], act: Callable[[], T]) -> T:
        """Runs `act` once per idempotency key; a key reused for another call is refused."""
        remembered = self._keys.get(key)
        if remembered is not None:
            if remembered.fingerprint != fingerprint:
                raise ProviderRefused("sandbox: idempotency key reused", "PROVIDER_IDEMPOTENCY_KEY_REUSED")
            return remembered.result  # type: ignore[return-value]
        result = act()
        self._keys[key] = _Remembered(fingerprint, result)
        return result

    def _decide(self, request: AuthorizationRequest) -> Authorization:
        reference = _reference("auth", request.idempotency_key)
        if request.payment_token in _DECLINES:
            return Authorization(reference, _DECLINES[request.payment_token])
        if request.payment_token not in _APPROVED:
            return Authorization(reference, DeclineReason.INVALID_TOKEN)
        self._authorizations[reference] = SandboxAuthorization(request.amount, request.payment_token)
        return Authorization(reference)

    def _known(self, reference: str) -> SandboxAuthorization:
        known = self._authorizations.get(reference)
        if known is None:  # made before a restart of the sandbox: adopt it, its limits unknown
            known = SandboxAuthorization(Money(_UNKNOWN_LIMIT, ""), TOKEN_SUCCESS, adopted=True)
            self._authorizations[reference] = known
        return known

    def _capture(self, reference: str, amount: Money, key: str) -> Receipt:
        known = self._known(reference)
        if known.token == TOKEN_CAPTURE_FAILS:
            raise ProviderRefused("sandbox: the issuer refused the capture", "CAPTURE_REFUSED")
        if known.voided or known.captured_minor > 0:
            raise ProviderRefused("sandbox: the authorization is closed", "AUTHORIZATION_CLOSED")
        if amount.amount_minor > known.amount.amount_minor:
            raise ProviderRefused("sandbox: capture over the authorization", "AMOUNT_EXCEEDS_AUTHORIZED")
        self._authorizations[reference] = replace(known, captured_minor=amount.amount_minor)
        return Receipt(_reference("cap", key))

    def _void(self, reference: str, key: str) -> Receipt:
        known = self._known(reference)
        if known.captured_minor > 0:
            raise ProviderRefused("sandbox: the authorization was captured", "AUTHORIZATION_CLOSED")
        self._authorizations[reference] = replace(known, voided=True)
        return Receipt(_reference("void", key))

    def _refund(self, reference: str, amount: Money, key: str) -> Receipt:
        known = self._known(reference)
        captured = _UNKNOWN_LIMIT if known.adopted else known.captured_minor
        if known.refunded_minor + amount.amount_minor > captured:
            raise ProviderRefused("sandbox: refund over the capture", "REFUND_EXCEEDS_CAPTURE")
        self._authorizations[reference] = replace(
            known, refunded_minor=known.refunded_minor + amount.amount_minor
        )
        return Receipt(_reference("re", key))


def _reference(kind: str, idempotency_key: str) -> str:
    """A deterministic provider reference: the same key always names the same operation."""
    return f"sbx_{kind}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}"
