"""In-process fakes of the seat and payment services, with scripted failures and call logs.

They keep the contracts' promises the booking service relies on: idempotency by request_id,
holds that expire, commits that refuse expired holds, payments found by their authorization key.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from farebox.payment.v1 import payment_pb2
from farebox.payment.v1 import payment_service_pb2 as pay
from farebox.payment.v1 import payment_service_pb2_grpc as pay_grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as seat
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as seat_grpc
from farebox.seat.v1 import seat_pb2

from common import errors
from common.interceptors.chain import standard_interceptors
from common.server import ServiceHost

Failure = Callable[[], errors.FareboxError]
PRICE_MINOR = 1_250


def unavailable() -> errors.FareboxError:
    """A transient failure."""
    return errors.Unavailable("down for the test", reason="TEST_UNAVAILABLE")


class Script:
    """Failures to return from the next calls of each method, and every call made."""

    def __init__(self) -> None:
        self.failures: dict[str, list[Failure]] = defaultdict(list)
        self.after_effect: dict[str, list[Failure]] = defaultdict(list)
        self.calls: list[tuple[str, object]] = []

    def fail(self, method: str, times: int = 1, failure: Failure = unavailable) -> None:
        """The next `times` calls of `method` fail before doing anything."""
        self.failures[method].extend([failure] * times)

    def lose_response(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` take effect, then answer UNAVAILABLE."""
        self.after_effect[method].extend([unavailable] * times)

    def enter(self, method: str, request: object) -> None:
        self.calls.append((method, request))
        if self.failures[method]:
            raise self.failures[method].pop(0)()

    def leave(self, method: str) -> None:
        if self.after_effect[method]:
            raise self.after_effect[method].pop(0)()

    def count(self, method: str) -> int:
        """How many calls of `method` arrived."""
        return sum(1 for name, _ in self.calls if name == method)

    def requests(self, method: str) -> list[object]:
        """The requests of every call of `method`."""
        return [request for name, request in self.calls if name == method]


@dataclass
class FakeHold:
    hold: seat_pb2.Hold
    expire_time: datetime


@dataclass
class FakeSeats(seat_grpc.SeatInventoryServiceServicer):
    """A seat inventory of whole-trip holds and sales."""

    script: Script = field(default_factory=Script)
    departures: dict[str, datetime] = field(default_factory=dict)
    holds: dict[str, FakeHold] = field(default_factory=dict)
    sold: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_trip(self, trip_id: str, departure: datetime | None = None) -> None:
        self.departures[trip_id] = departure or datetime.now(UTC) + timedelta(days=2)

    def expire(self, hold_id: str) -> None:
        """Makes a hold expire now."""
        self.holds[hold_id].expire_time = datetime.now(UTC) - timedelta(seconds=1)

    def _taken(self, trip_id: str, seat_number: str) -> bool:
        if (trip_id, seat_number) in self.sold:
            return True
        now = datetime.now(UTC)
        return any(
            h.hold.trip_id == trip_id
            and seat_number in h.hold.seat_numbers
            and h.hold.state == seat_pb2.HOLD_STATE_ACTIVE
            and h.expire_time > now
            for h in self.holds.values()
        )

    async def HoldSeats(self, request: seat.HoldSeatsRequest, context: object) -> seat.HoldSeatsResponse:
        self.script.enter("HoldSeats", request)
        hold_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.holder_id}/{request.request_id}"))
        if hold_id not in self.holds:
            if request.trip_id not in self.departures:
                raise errors.NotFound("no such trip", reason="TRIP_NOT_FOUND")
            taken = [s for s in request.seat_numbers if self._taken(request.trip_id, s)]
            if taken:
                raise errors.SeatUnavailable(taken)
            expire = datetime.now(UTC) + request.ttl.ToTimedelta()
            hold = seat_pb2.Hold(
                hold_id=hold_id,
                trip_id=request.trip_id,
                seat_numbers=request.seat_numbers,
                from_stop=request.from_stop,
                to_stop=request.to_stop,
                holder_id=request.holder_id,
                state=seat_pb2.HOLD_STATE_ACTIVE,
            )
            hold.expire_time.FromDatetime(expire)
            hold.total_price.amount_minor = PRICE_MINOR * len(request.seat_numbers)
            hold.total_price.currency_code = "EUR"
            self.holds[hold_id] = FakeHold(hold, expire)
        self.script.leave("HoldSeats")
        return seat.HoldSeatsResponse(hold=self.holds[hold_id].hold)

    async def CommitHold(self, request: seat.CommitHoldRequest, context: object) -> seat.CommitHoldResponse:
        self.script.enter("CommitHold", request)
        found = self.holds.get(request.hold_id)
        if found is None:
            raise errors.NotFound("no such hold", reason="HOLD_NOT_FOUND")
        hold = found.hold
        if hold.state != seat_pb2.HOLD_STATE_COMMITTED:
            if hold.state != seat_pb2.HOLD_STATE_ACTIVE or found.expire_time <= datetime.now(UTC):
                raise errors.FailedPrecondition("the hold has expired", reason="HOLD_EXPIRED")
            hold.state = seat_pb2.HOLD_STATE_COMMITTED
            hold.booking_id = request.booking_id
            for seat_number in hold.seat_numbers:
                self.sold[(hold.trip_id, seat_number)] = request.booking_id
        self.script.leave("CommitHold")
        return seat.CommitHoldResponse(hold=hold)

    async def ReleaseHold(
        self, request: seat.ReleaseHoldRequest, context: object
    ) -> seat.ReleaseHoldResponse:
        self.script.enter("ReleaseHold", request)
        found = self.holds.get(request.hold_id)
        if found is None:
            raise errors.NotFound("no such hold", reason="HOLD_NOT_FOUND")
        if found.hold.state == seat_pb2.HOLD_STATE_ACTIVE:
            found.hold.state = seat_pb2.HOLD_STATE_RELEASED
        return seat.ReleaseHoldResponse(hold=found.hold)

    async def ReleaseSeats(
        self, request: seat.ReleaseSeatsRequest, context: object
    ) -> seat.ReleaseSeatsResponse:
        self.script.enter("ReleaseSeats", request)
        returned = [key for key, booking in self.sold.items() if booking == request.booking_id]
        for key in returned:
            del self.sold[key]
        self.script.leave("ReleaseSeats")
        return seat.ReleaseSeatsResponse(
            trip_id=returned[0][0] if returned else "", seat_numbers=[key[1] for key in returned]
        )

    async def GetTrip(self, request: seat.GetTripRequest, context: object) -> seat.GetTripResponse:
        self.script.enter("GetTrip", request)
        if request.trip_id not in self.departures:
            raise errors.NotFound("no such trip", reason="TRIP_NOT_FOUND")
        trip = seat_pb2.Trip(trip_id=request.trip_id)
        trip.departure_time.FromDatetime(self.departures[request.trip_id])
        return seat.GetTripResponse(trip=trip)


Status = payment_pb2.PaymentStatus


@dataclass
class FakePayments(pay_grpc.PaymentServiceServicer):
    """A payment service whose card tokens decide the outcome: tok_success, tok_declined."""

    script: Script = field(default_factory=Script)
    payments: dict[str, payment_pb2.Payment] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)

    def _payment(self, payment_id: str) -> payment_pb2.Payment:
        if payment_id not in self.payments:
            raise errors.NotFound("no such payment", reason="PAYMENT_NOT_FOUND")
        return self.payments[payment_id]

    async def AuthorizePayment(
        self, request: pay.AuthorizePaymentRequest, context: object
    ) -> pay.AuthorizePaymentResponse:
        self.script.enter("AuthorizePayment", request)
        if request.request_id not in self.by_key:
            payment = payment_pb2.Payment(
                payment_id=str(uuid.uuid4()), booking_reference=request.booking_reference
            )
            payment.authorized_amount.CopyFrom(request.amount)
            if request.payment_token == "tok_success":
                payment.status = Status.PAYMENT_STATUS_AUTHORIZED
            else:
                payment.status = Status.PAYMENT_STATUS_DECLINED
                payment.decline_reason = payment_pb2.DECLINE_REASON_INSUFFICIENT_FUNDS
            self.payments[payment.payment_id] = payment
            self.by_key[request.request_id] = payment.payment_id
        self.script.leave("AuthorizePayment")
        return pay.AuthorizePaymentResponse(payment=self.payments[self.by_key[request.request_id]])

    async def CapturePayment(
        self, request: pay.CapturePaymentRequest, context: object
    ) -> pay.CapturePaymentResponse:
        self.script.enter("CapturePayment", request)
        payment = self._payment(request.payment_id)
        if payment.status == Status.PAYMENT_STATUS_AUTHORIZED:
            payment.status = Status.PAYMENT_STATUS_CAPTURED
            payment.captured_amount.CopyFrom(payment.authorized_amount)
        elif payment.status != Status.PAYMENT_STATUS_CAPTURED:
            raise errors.FailedPrecondition("cannot capture", reason="PAYMENT_NOT_CAPTURABLE")
        self.script.leave("CapturePayment")
        return pay.CapturePaymentResponse(payment=payment)

    async def VoidPayment(self, request: pay.VoidPaymentRequest, context: object) -> pay.VoidPaymentResponse:
        self.script.enter("VoidPayment", request)
        payment = self._payment(request.payment_id)
        if payment.status == Status.PAYMENT_STATUS_AUTHORIZED:
            payment.status = Status.PAYMENT_STATUS_VOIDED
        elif payment.status != Status.PAYMENT_STATUS_VOIDED:
            raise errors.FailedPrecondition("cannot void", reason="PAYMENT_NOT_VOIDABLE")
        return pay.VoidPaymentResponse(payment=payment)

    async def RefundPayment(
        self, request: pay.RefundPaymentRequest, context: object
    ) -> pay.RefundPaymentResponse:
        self.script.enter("RefundPayment", request)
        payment = self._payment(request.payment_id)
        if payment.status == Status.PAYMENT_STATUS_CAPTURED:
            payment.status = Status.PAYMENT_STATUS_REFUNDED
            payment.refunded_amount.CopyFrom(payment.captured_amount)
        elif payment.status != Status.PAYMENT_STATUS_REFUNDED:
            raise errors.FailedPrecondition("cannot refund", reason="PAYMENT_NOT_REFUNDABLE")
        return pay.RefundPaymentResponse(payment=payment)

    async def GetPayment(self, request: pay.GetPaymentRequest, context: object) -> pay.GetPaymentResponse:
        self.script.enter("GetPayment", request)
        if request.WhichOneof("lookup") == "authorization_request_id":
            payment_id = self.by_key.get(request.authorization_request_id, "")
        else:
            payment_id = request.payment_id
        return pay.GetPaymentResponse(payment=self._payment(payment_id))

    def for_booking(self, booking_id: str) -> list[payment_pb2.Payment]:
        """Every payment made for a booking."""
        return [p for p in self.payments.values() if p.booking_reference == booking_id]


@dataclass
class FakeDownstreams:
    """Both fakes behind one started server."""

    seats: FakeSeats
    payments: FakePayments
    target: str
    host: ServiceHost


@asynccontextmanager
async def fake_downstreams() -> AsyncIterator[FakeDownstreams]:
    """Starts a server on a free port serving a fresh FakeSeats and FakePayments."""
    seats, payments = FakeSeats(), FakePayments()
    host = ServiceHost.create(
        ["farebox.seat.v1.SeatInventoryService", "farebox.payment.v1.PaymentService"],
        interceptors=standard_interceptors(),
    )
    seat_grpc.add_SeatInventoryServiceServicer_to_server(seats, host.server)
    pay_grpc.add_PaymentServiceServicer_to_server(payments, host.server)
    port = await host.start("127.0.0.1:0")
    try:
        yield FakeDownstreams(seats, payments, f"127.0.0.1:{port}", host)
    finally:
        await host.server.stop(None)


def status_error(code: grpc.StatusCode) -> Failure:
    """A failure with `code` and no details."""

    def build() -> errors.FareboxError:
        error = errors.FareboxError("scripted failure", reason="SCRIPTED")
        error.code = code
        return error

    return build
