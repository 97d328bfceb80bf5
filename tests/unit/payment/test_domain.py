"""The payment rules, for every status and every change, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from common.errors import FailedPrecondition, InvalidArgument
from payment_service import domain
from payment_service.domain import EventType, Money, Payment, PaymentStatus

NOW = datetime(2026, 11, 23, tzinfo=UTC)

AMOUNTS = {
    PaymentStatus.AUTHORIZED: (10_000, 0, 0),
    PaymentStatus.DECLINED: (0, 0, 0),
    PaymentStatus.VOIDED: (10_000, 0, 0),
    PaymentStatus.CAPTURED: (10_000, 8_000, 0),
    PaymentStatus.PARTIALLY_REFUNDED: (10_000, 8_000, 3_000),
    PaymentStatus.REFUNDED: (10_000, 8_000, 8_000),
}


def payment(status: PaymentStatus) -> Payment:
    authorized, captured, refunded = AMOUNTS[status]
    return Payment(
        payment_id="pay_1",
        booking_reference="BK1",
        status=status,
        currency="EUR",
        requested_minor=10_000,
        authorized_minor=authorized,
        captured_minor=captured,
        refunded_minor=refunded,
        decline_reason=None,
        provider_reference="sbx_auth_1",
        authorization_request_id="r1",
        events=(),
        create_time=NOW,
        update_time=NOW,
    )


REFUSED = {
    (PaymentStatus.AUTHORIZED, "refund"): "PAYMENT_NOT_CAPTURED",
    (PaymentStatus.DECLINED, "capture"): "PAYMENT_DECLINED",
    (PaymentStatus.DECLINED, "void"): "PAYMENT_DECLINED",
    (PaymentStatus.DECLINED, "refund"): "PAYMENT_DECLINED",
    (PaymentStatus.VOIDED, "capture"): "PAYMENT_VOIDED",
    (PaymentStatus.VOIDED, "void"): "PAYMENT_VOIDED",
    (PaymentStatus.VOIDED, "refund"): "PAYMENT_VOIDED",
    (PaymentStatus.CAPTURED, "capture"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.CAPTURED, "void"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.PARTIALLY_REFUNDED, "capture"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.PARTIALLY_REFUNDED, "void"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.REFUNDED, "capture"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.REFUNDED, "void"): "PAYMENT_ALREADY_CAPTURED",
    (PaymentStatus.REFUNDED, "refund"): "PAYMENT_FULLY_REFUNDED",
}

CHANGES = {
    "capture": lambda p: domain.capture(p, None),
    "void": domain.void,
    "refund": lambda p: domain.refund(p, None),
}


@pytest.mark.parametrize(("status", "operation"), sorted(REFUSED))
def test_illegal_changes_are_refused_with_a_reason(status: PaymentStatus, operation: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        CHANGES[operation](payment(status))
    assert refused.value.reason == REFUSED[(status, operation)]
    assert refused.value.metadata == {"payment_id": "pay_1", "status": status.value}


def test_every_status_and_change_is_either_legal_or_refused() -> None:
    legal = {(s, o) for s in PaymentStatus for o in CHANGES} - set(REFUSED)
    assert legal == {
        (PaymentStatus.AUTHORIZED, "capture"),
        (PaymentStatus.AUTHORIZED, "void"),
        (PaymentStatus.CAPTURED, "refund"),
        (PaymentStatus.PARTIALLY_REFUNDED, "refund"),
    }


def test_capture_all_or_part_once() -> None:
    assert domain.capture(payment(PaymentStatus.AUTHORIZED), None) == domain.Transition(
        EventType.CAPTURED, 10_000, PaymentStatus.CAPTURED, 10_000, 0
    )
    assert domain.capture(payment(PaymentStatus.AUTHORIZED), Money(2_500, "EUR")).captured_minor == 2_500
    with pytest.raises(FailedPrecondition, match="only 10000") as over:
        domain.capture(payment(PaymentStatus.AUTHORIZED), Money(10_001, "EUR"))
    assert over.value.reason == "AMOUNT_EXCEEDS_AUTHORIZED"


def test_void_releases_the_authorization() -> None:
    assert domain.void(payment(PaymentStatus.AUTHORIZED)) == domain.Transition(
        EventType.VOIDED, 0, PaymentStatus.VOIDED, 0, 0
    )


def test_refunds_add_up_to_the_capture_and_no_further() -> None:
    partly = domain.refund(payment(PaymentStatus.CAPTURED), Money(3_000, "EUR"))
    assert partly == domain.Transition(
        EventType.REFUNDED, 3_000, PaymentStatus.PARTIALLY_REFUNDED, 8_000, 3_000
    )
    rest = domain.refund(payment(PaymentStatus.PARTIALLY_REFUNDED), None)
    assert rest == domain.Transition(EventType.REFUNDED, 5_000, PaymentStatus.REFUNDED, 8_000, 8_000)
    with pytest.raises(FailedPrecondition) as over:
        domain.refund(payment(PaymentStatus.PARTIALLY_REFUNDED), Money(5_001, "EUR"))
    assert over.value.reason == "REFUND_EXCEEDS_CAPTURE"


@pytest.mark.parametrize(
    ("amount", "fields"),
    [
        (Money(0, "EUR"), ["amount.amount_minor"]),
        (Money(-5, "EUR"), ["amount.amount_minor"]),
        (Money(5, "eur"), ["amount.currency_code"]),
        (Money(5, "EURO"), ["amount.currency_code"]),
        (Money(0, ""), ["amount.amount_minor", "amount.currency_code"]),
    ],
)
def test_bad_amounts_name_their_fields(amount: Money, fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as bad:
        domain.check_amount(amount)
    assert [field for field, _ in bad.value.field_violations] == fields


def test_an_amount_in_another_currency_is_refused() -> None:
    with pytest.raises(InvalidArgument) as bad:
        domain.capture(payment(PaymentStatus.AUTHORIZED), Money(100, "USD"))
    assert [field for field, _ in bad.value.field_violations] == ["amount.currency_code"]


def test_refundable_is_what_is_left_of_the_capture() -> None:
    assert replace(payment(PaymentStatus.PARTIALLY_REFUNDED)).refundable_minor == 5_000
