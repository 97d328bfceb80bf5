"""The payment provider interface: what a card processor (PSP) does for the payment service.

Contract of every implementation:
- Each call carries an idempotency key. Repeating a call with the same key never repeats its effect:
  it returns the first call's result (a real PSP keeps its keys at least 24 hours).
- A call may be cancelled (the caller's deadline ran out); its effect is then unknown, and the
  service repeats it later with the same key. So a call must be safe to repeat, never to guess.
- A declined authorization is an answer (`Authorization.decline_reason`), not an error.
- `ProviderUnavailable`: the provider could not answer now (network, 5xx, rate limit); retryable.
  These count towards the circuit breaker.
- `ProviderRefused`: the provider answered and refused for good (capture of an expired
  authorization, refund over the captured amount). Not retryable; not a breaker failure.
- Amounts are integers in minor units with an ISO 4217 currency, as in the ledger.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from payment_service.domain import DeclineReason, Money


@dataclass(frozen=True)
class AuthorizationRequest:
    """Reserve `amount` on the card behind `payment_token`."""

    idempotency_key: str
    amount: Money
    payment_token: str
    booking_reference: str


@dataclass(frozen=True)
class Authorization:
    """The provider's answer to an authorization: its reference, and why it was declined if it was."""

    reference: str
    decline_reason: DeclineReason | None = None

    @property
    def approved(self) -> bool:
        """Whether the amount is now reserved on the card."""
        return self.decline_reason is None


@dataclass(frozen=True)
class Receipt:
    """The provider's reference for a capture, void or refund."""

    reference: str


class ProviderError(Exception):
    """A provider call did not succeed."""


class ProviderUnavailable(ProviderError):
    """The provider could not answer now; the same call with the same key may be repeated."""


class ProviderRefused(ProviderError):
    """The provider refused the operation for good; `reason` is a stable code for clients."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PaymentProvider(ABC):
    """A card processor: authorize, then capture or void, then refund what was captured."""

    name: str

    @abstractmethod
    async def authorize(self, request: AuthorizationRequest) -> Authorization:
        """Reserves the amount on the card, or declines."""

    @abstractmethod
    async def capture(self, authorization: str, amount: Money, idempotency_key: str) -> Receipt:
        """Captures `amount` (at most the authorized amount) of an authorization, once."""

    @abstractmethod
    async def void(self, authorization: str, idempotency_key: str) -> Receipt:
        """Releases an authorization that was never captured."""

    @abstractmethod
    async def refund(self, authorization: str, amount: Money, idempotency_key: str) -> Receipt:
        """Returns `amount` of the captured money to the card; refunds never exceed the capture."""
