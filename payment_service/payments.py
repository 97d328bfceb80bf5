"""The payment use cases: authorize, capture, void, refund and look up, over ledger and provider.

Each change is safe to repeat after a crash, on top of the idempotency interceptor: the provider is
called with a key derived from the caller's request_id (so it never charges twice), and the ledger
records that request_id (so a change it already holds is returned, not applied again). A change to
an existing payment holds the payment's row lock across the provider call, so concurrent changes of
one payment run one at a time and refunds can never exceed the capture.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import structlog

from common.errors import IdempotencyKeyReused, NotFound
from common.request_context import time_remaining
from payment_service import domain
from payment_service.domain import EventType, Money, Payment
from payment_service.provider_guard import APPROVED, DECLINED, ProviderGuard
from payment_service.providers.base import Authorization, AuthorizationRequest
from payment_service.store import LockedPayment, NewPayment, PaymentStore

log = structlog.get_logger()


@dataclass(frozen=True)
class Authorize:
    """A request to authorize `amount` for a booking with a card token."""

    caller_scope: str
    request_id: str
    booking_reference: str
    amount: Money
    payment_token: str


def provider_key(*parts: str) -> str:
    """The idempotency key sent to the provider: stable for the same operation, opaque, 64 characters."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Payments:
    """Authorizes, captures, voids and refunds payments."""

    def __init__(self, store: PaymentStore, guard: ProviderGuard) -> None:
        self._store = store
        self._guard = guard

    async def authorize(self, command: Authorize) -> Payment:
        """Authorizes at the provider and records the payment, AUTHORIZED or DECLINED."""
        domain.check_amount(command.amount)
        existing = await self._store.find_by_authorization(command.caller_scope, command.request_id)
        if existing is not None:
            return _same_authorization(existing, command)
        provider = self._guard.provider
        request = AuthorizationRequest(
            idempotency_key=provider_key("authorize", command.caller_scope, command.request_id),
            amount=command.amount,
            payment_token=command.payment_token,
            booking_reference=command.booking_reference,
        )
        authorization = await self._guard.call(
            "authorize", lambda: provider.authorize(request), outcome=_authorization_outcome
        )
        payment = await self._store.insert(
            NewPayment(
                payment_id=f"pay_{uuid.uuid4().hex}",
                caller_scope=command.caller_scope,
                authorization_request_id=command.request_id,
                booking_reference=command.booking_reference,
                amount=command.amount,
                decline_reason=authorization.decline_reason,
                provider=provider.name,
                provider_reference=authorization.reference,
            )
        )
        log.info(
            "payment_authorized" if authorization.approved else "payment_declined",
            payment_id=payment.payment_id,
            amount_minor=command.amount.amount_minor,
            currency=command.amount.currency,
            decline_reason=authorization.decline_reason,
        )
        return payment

    async def capture(self, payment_id: str, amount: Money | None, request_id: str) -> Payment:
        """Captures all or part of the authorization, once."""
        async with self._store.locked(payment_id, _lock_timeout()) as locked:
            if await locked.already_applied(EventType.CAPTURED, request_id):
                return locked.payment
            transition = domain.capture(locked.payment, amount)
            captured = Money(transition.amount_minor, locked.payment.currency)
            provider = self._guard.provider
            receipt = await self._guard.call(
                "capture",
                lambda: provider.capture(
                    locked.payment.provider_reference,
                    captured,
                    provider_key("capture", payment_id, request_id),
                ),
            )
            return await _applied(locked, transition, receipt.reference, request_id)

    async def void(self, payment_id: str, request_id: str) -> Payment:
        """Releases an authorization that was never captured."""
        async with self._store.locked(payment_id, _lock_timeout()) as locked:
            if await locked.already_applied(EventType.VOIDED, request_id):
                return locked.payment
            transition = domain.void(locked.payment)
            provider = self._guard.provider
            receipt = await self._guard.call(
                "void",
                lambda: provider.void(
                    locked.payment.provider_reference, provider_key("void", payment_id, request_id)
                ),
            )
            return await _applied(locked, transition, receipt.reference, request_id)

    async def refund(self, payment_id: str, amount: Money | None, reason: str, request_id: str) -> Payment:
        """Refunds all or part of what is left of the capture."""
        async with self._store.locked(payment_id, _lock_timeout()) as locked:
            if await locked.already_applied(EventType.REFUNDED, request_id):
                return locked.payment
            transition = domain.refund(locked.payment, amount)
            refunded = Money(transition.amount_minor, locked.payment.currency)
            provider = self._guard.provider
            receipt = await self._guard.call(
                "refund",
                lambda: provider.refund(
                    locked.payment.provider_reference,
                    refunded,
                    provider_key("refund", payment_id, request_id),
                ),
            )
            return await _applied(locked, transition, receipt.reference, request_id, reason)

    async def get(self, payment_id: str) -> Payment:
        """The payment with this id."""
        payment = await self._store.get(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist", metadata={"payment_id": payment_id})
        return payment

    async def get_by_authorization(self, caller_scope: str, request_id: str) -> Payment:
        """The payment the caller authorized under `request_id`."""
        payment = await self._store.find_by_authorization(caller_scope, request_id)
        if payment is None:
            raise NotFound(
                "no payment was authorized with this request_id",
                metadata={"authorization_request_id": request_id},
            )
        return payment


async def _applied(
    locked: LockedPayment, transition: domain.Transition, reference: str, request_id: str, reason: str = ""
) -> Payment:
    payment = await locked.apply(transition, reference, request_id, reason)
    log.info(
        "payment_changed",
        payment_id=payment.payment_id,
        change=transition.event.value,
        amount_minor=transition.amount_minor,
        status=payment.status.value,
    )
    return payment


def _authorization_outcome(authorization: Authorization) -> str:
    return APPROVED if authorization.approved else DECLINED


def _same_authorization(existing: Payment, command: Authorize) -> Payment:
    """The payment already authorized under this key, if it was asked for with the same terms."""
    same = (
        existing.booking_reference == command.booking_reference
        and existing.requested_minor == command.amount.amount_minor
        and existing.currency == command.amount.currency
    )
    if not same:
        raise IdempotencyKeyReused(
            "request_id already authorized a different payment",
            field_violations=[("request_id", "already used for a different payment")],
        )
    return existing


def _lock_timeout() -> float | None:
    """How long to wait for a payment's row lock: until the caller's deadline."""
    remaining = time_remaining()
    return None if remaining is None else max(0.001, remaining)
