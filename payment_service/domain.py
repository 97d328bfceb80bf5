"""Payments: states, ledger entries and the rules of capture, void and refund.

    AUTHORIZED --capture (once, all or part)--> CAPTURED --refund (part)--> PARTIALLY_REFUNDED
        |                                          |                             | refund (rest)
        +--void--> VOIDED                          +--refund (all)--> REFUNDED <-+
    DECLINED (terminal, nothing reserved)

Amounts are integers in minor units; refunded <= captured <= authorized always holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from common.errors import FailedPrecondition, InvalidArgument


class PaymentStatus(StrEnum):
    """Where a payment is in its life."""

    AUTHORIZED = "AUTHORIZED"
    DECLINED = "DECLINED"
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class DeclineReason(StrEnum):
    """Why a provider declined an authorization."""

    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    SUSPECTED_FRAUD = "SUSPECTED_FRAUD"
    INVALID_TOKEN = "INVALID_TOKEN"


class EventType(StrEnum):
    """The kind of a ledger entry."""

    AUTHORIZED = "AUTHORIZED"
    DECLINED = "DECLINED"
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"
    REFUNDED = "REFUNDED"


class Operation(StrEnum):
    """A change asked of an existing payment."""

    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


@dataclass(frozen=True)
class Money:
    """An amount in minor units of an ISO 4217 currency."""

    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentEvent:
    """One append-only ledger entry."""

    type: EventType
    amount_minor: int
    provider_reference: str
    create_time: datetime


@dataclass(frozen=True)
class Payment:
    """A card payment, its amounts and its ledger (oldest entry first)."""

    payment_id: str
    booking_reference: str
    status: PaymentStatus
    currency: str
    requested_minor: int
    authorized_minor: int
    captured_minor: int
    refunded_minor: int
    decline_reason: DeclineReason | None
    provider_reference: str
    authorization_request_id: str
    events: tuple[PaymentEvent, ...]
    create_time: datetime
    update_time: datetime

    @property
    def refundable_minor(self) -> int:
        """What is left of the capture to refund."""
        return self.captured_minor - self.refunded_minor


@dataclass(frozen=True)
class Transition:
    """The state a change leads to, and the ledger entry that records it."""

    event: EventType
    amount_minor: int
    status: PaymentStatus
    captured_minor: int
    refunded_minor: int


_ALLOWED = {
    Operation.CAPTURE: {PaymentStatus.AUTHORIZED},
    Operation.VOID: {PaymentStatus.AUTHORIZED},
    Operation.REFUND: {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED},
}

_REFUSAL = {
    PaymentStatus.AUTHORIZED: ("PAYMENT_NOT_CAPTURED", "the payment has not been captured"),
    PaymentStatus.DECLINED: ("PAYMENT_DECLINED", "the payment was declined"),
    PaymentStatus.VOIDED: ("PAYMENT_VOIDED", "the payment was voided"),
    PaymentStatus.CAPTURED: ("PAYMENT_ALREADY_CAPTURED", "the payment was already captured"),
    PaymentStatus.PARTIALLY_REFUNDED: ("PAYMENT_ALREADY_CAPTURED", "the payment was already captured"),
    PaymentStatus.REFUNDED: ("PAYMENT_ALREADY_CAPTURED", "the payment was already captured"),
}


def require(payment: Payment, operation: Operation) -> None:
    """Raises FailedPrecondition, with a reason naming the state, when `operation` is illegal now."""
    if payment.status in _ALLOWED[operation]:
        return
    reason, message = _REFUSAL[payment.status]
    if operation is Operation.REFUND and payment.status is PaymentStatus.REFUNDED:
        reason, message = "PAYMENT_FULLY_REFUNDED", "the payment was already refunded in full"
    raise FailedPrecondition(
        f"cannot {operation.value} payment {payment.payment_id}: {message}",
        reason=reason,
        metadata={"payment_id": payment.payment_id, "status": payment.status.value},
    )


def check_amount(amount: Money, field: str = "amount") -> None:
    """Raises InvalidArgument unless the amount is positive in a well-formed currency code."""
    violations = []
    if amount.amount_minor <= 0:
        violations.append((f"{field}.amount_minor", "must be positive"))
    if len(amount.currency) != 3 or not amount.currency.isascii() or not amount.currency.isupper():
        violations.append((f"{field}.currency_code", "must be an ISO 4217 code such as EUR"))
    if violations:
        raise InvalidArgument("the amount is not valid", field_violations=violations)


def _amount_in_currency(payment: Payment, amount: Money | None, default: int) -> int:
    if amount is None:
        return default
    check_amount(amount)
    if amount.currency != payment.currency:
        raise InvalidArgument(
            f"the payment is in {payment.currency}",
            field_violations=[("amount.currency_code", f"must be {payment.currency}")],
        )
    return amount.amount_minor


def capture(payment: Payment, amount: Money | None) -> Transition:
    """Captures `amount` (all of the authorization when None), once; the rest is released."""
    require(payment, Operation.CAPTURE)
    captured = _amount_in_currency(payment, amount, payment.authorized_minor)
    if captured > payment.authorized_minor:
        raise FailedPrecondition(
            f"cannot capture {captured}: only {payment.authorized_minor} was authorized",
            reason="AMOUNT_EXCEEDS_AUTHORIZED",
            metadata={"payment_id": payment.payment_id, "authorized_minor": str(payment.authorized_minor)},
        )
    return Transition(EventType.CAPTURED, captured, PaymentStatus.CAPTURED, captured, 0)


def void(payment: Payment) -> Transition:
    """Cancels an authorization that was never captured."""
    require(payment, Operation.VOID)
    return Transition(EventType.VOIDED, 0, PaymentStatus.VOIDED, 0, 0)


def refund(payment: Payment, amount: Money | None) -> Transition:
    """Refunds `amount` (all that is left when None); refunds never exceed the capture."""
    require(payment, Operation.REFUND)
    refunded = _amount_in_currency(payment, amount, payment.refundable_minor)
    if refunded > payment.refundable_minor:
        raise FailedPrecondition(
            f"cannot refund {refunded}: only {payment.refundable_minor} of the capture is left",
            reason="REFUND_EXCEEDS_CAPTURE",
            metadata={"payment_id": payment.payment_id, "refundable_minor": str(payment.refundable_minor)},
        )
    total = payment.refunded_minor + refunded
    status = PaymentStatus.REFUNDED if total == payment.captured_minor else PaymentStatus.PARTIALLY_REFUNDED
    return Transition(EventType.REFUNDED, refunded, status, payment.captured_minor, total)
