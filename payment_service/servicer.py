"""The PaymentService servicer: protobuf in, use case, protobuf out."""

from __future__ import annotations

from datetime import datetime

import grpc
from farebox.common.v1 import money_pb2
from farebox.payment.v1 import payment_pb2, payment_service_pb2, payment_service_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from common.errors import InvalidArgument
from common.idempotency import active_key, caller_scope
from payment_service.domain import Money, Payment, PaymentEvent
from payment_service.payments import Authorize, Payments


class PaymentServicer(payment_service_pb2_grpc.PaymentServiceServicer):
    """Serves PaymentService; the idempotency interceptor supplies the request_id of every change."""

    def __init__(self, payments: Payments) -> None:
        self._payments = payments

    async def AuthorizePayment(
        self, request: payment_service_pb2.AuthorizePaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.AuthorizePaymentResponse:
        _require(
            ("booking_reference", request.booking_reference),
            ("payment_token", request.payment_token),
        )
        if not request.HasField("amount"):
            raise InvalidArgument("amount is required", field_violations=[("amount", "required")])
        key = active_key()
        payment = await self._payments.authorize(
            Authorize(
                caller_scope=key.scope,
                request_id=key.request_id,
                booking_reference=request.booking_reference,
                amount=_money(request.amount),
                payment_token=request.payment_token,
            )
        )
        return payment_service_pb2.AuthorizePaymentResponse(payment=to_proto(payment))

    async def CapturePayment(
        self, request: payment_service_pb2.CapturePaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.CapturePaymentResponse:
        _require(("payment_id", request.payment_id))
        amount = _money(request.amount) if request.HasField("amount") else None
        payment = await self._payments.capture(request.payment_id, amount, active_key().request_id)
        return payment_service_pb2.CapturePaymentResponse(payment=to_proto(payment))

    async def VoidPayment(
        self, request: payment_service_pb2.VoidPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.VoidPaymentResponse:
        _require(("payment_id", request.payment_id))
        payment = await self._payments.void(request.payment_id, active_key().request_id)
        return payment_service_pb2.VoidPaymentResponse(payment=to_proto(payment))

    async def RefundPayment(
        self, request: payment_service_pb2.RefundPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.RefundPaymentResponse:
        _require(("payment_id", request.payment_id))
        amount = _money(request.amount) if request.HasField("amount") else None
        payment = await self._payments.refund(
            request.payment_id, amount, request.reason, active_key().request_id
        )
        return payment_service_pb2.RefundPaymentResponse(payment=to_proto(payment))

    async def GetPayment(
        self, request: payment_service_pb2.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.GetPaymentResponse:
        lookup = request.WhichOneof("lookup")
        if lookup == "payment_id" and request.payment_id:
            payment = await self._payments.get(request.payment_id)
        elif lookup == "authorization_request_id" and request.authorization_request_id:
            payment = await self._payments.get_by_authorization(
                caller_scope(), request.authorization_request_id
            )
        else:
            raise InvalidArgument(
                "set payment_id or authorization_request_id",
                field_violations=[("payment_id", "set payment_id or authorization_request_id")],
            )
        return payment_service_pb2.GetPaymentResponse(payment=to_proto(payment))


def _require(*fields: tuple[str, str]) -> None:
    missing = [(name, "required") for name, value in fields if not value]
    if missing:
        raise InvalidArgument(f"missing {', '.join(name for name, _ in missing)}", field_violations=missing)


def _money(message: money_pb2.Money) -> Money:
    return Money(amount_minor=message.amount_minor, currency=message.currency_code)


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _event(event: PaymentEvent, currency: str) -> payment_pb2.PaymentEvent:
    return payment_pb2.PaymentEvent(
        type=payment_pb2.PaymentEventType.Value(f"PAYMENT_EVENT_TYPE_{event.type.value}"),
        amount=money_pb2.Money(amount_minor=event.amount_minor, currency_code=currency),
        create_time=_timestamp(event.create_time),
        provider_reference=event.provider_reference,
    )


def to_proto(payment: Payment) -> payment_pb2.Payment:
    """The payment as the contract's message."""

    def money(amount_minor: int) -> money_pb2.Money:
        return money_pb2.Money(amount_minor=amount_minor, currency_code=payment.currency)

    decline = "UNSPECIFIED" if payment.decline_reason is None else payment.decline_reason.value
    return payment_pb2.Payment(
        payment_id=payment.payment_id,
        booking_reference=payment.booking_reference,
        status=payment_pb2.PaymentStatus.Value(f"PAYMENT_STATUS_{payment.status.value}"),
        authorized_amount=money(payment.authorized_minor),
        captured_amount=money(payment.captured_minor),
        refunded_amount=money(payment.refunded_minor),
        decline_reason=payment_pb2.DeclineReason.Value(f"DECLINE_REASON_{decline}"),
        events=[_event(event, payment.currency) for event in payment.events],
        create_time=_timestamp(payment.create_time),
        update_time=_timestamp(payment.update_time),
    )
