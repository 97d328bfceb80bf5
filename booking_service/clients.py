"""Typed clients for the seat and payment services: deadlines, retries, one breaker per downstream.

Every call gets a budget from the incoming deadline minus a margin (`outgoing_timeout`, which fails
fast with DEADLINE_EXCEEDED when too little is left). Inside the budget, tenacity retries UNAVAILABLE,
and DEADLINE_EXCEEDED of idempotent calls, with exponential backoff and jitter, never sleeping past
the budget; a retry sends the same request, so the same idempotency key. Each attempt runs inside
the downstream's breaker; an open breaker fails fast with UNAVAILABLE and a reason naming the
downstream. Errors the downstream returns for good become the matching domain error. Retries and
breaker states are published per downstream (`booking_service.metrics`). Calls go over a
`ReloadingChannel`, so a renewed client certificate is used without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

import grpc
import pybreaker
from farebox.payment.v1 import payment_service_pb2 as pay
from farebox.payment.v1 import payment_service_pb2_grpc as pay_grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as seat
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as seat_grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenacity import AsyncRetrying, retry_if_exception, stop_before_delay, wait_exponential_jitter

from booking_service.metrics import retry_counter
from booking_service.settings import DownstreamSettings
from common import errors
from common.breakers import BreakerReport
from common.request_context import outgoing_timeout
from common.security_settings import TlsSettings
from common.tls import ReloadingChannel

Response = TypeVar("Response")
Stub = TypeVar("Stub")

# Codes that say the downstream is unhealthy; anything else is an answer and keeps the breaker closed.
_BREAKER_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
_MIN_ATTEMPT_TIMEOUT = 0.01

_DOMAIN_ERRORS: dict[grpc.StatusCode, type[errors.FareboxError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ALREADY_EXISTS: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: errors.Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
}


def _not_a_fault(error: BaseException) -> bool:
    """Breaker exclusion: only transport and server failures count against a downstream."""
    return not (isinstance(error, grpc.aio.AioRpcError) and error.code() in _BREAKER_CODES)


def _transient(error: BaseException, idempotent: bool) -> bool:
    if not isinstance(error, grpc.aio.AioRpcError):
        return False
    return error.code() == grpc.StatusCode.UNAVAILABLE or (
        idempotent and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    )


def _rpc_name(request: Any) -> str:
    """The RPC a request is for: every RPC has its own `<Rpc>Request` message (buf's STANDARD lint)."""
    return type(request).__name__.removesuffix("Request")


class Downstream:
    """One downstream service: its breaker and the retry policy of calls to it.

    `label` names it in metrics (`downstream="seat"`); it defaults to `name`.
    """

    def __init__(self, name: str, settings: DownstreamSettings, label: str | None = None) -> None:
        self.name = name
        self.label = label or name
        self.reason = f"{name.upper()}_UNAVAILABLE"
        self.settings = settings
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_fail_max,
            reset_timeout=settings.breaker_reset,
            exclude=[_not_a_fault],
            listeners=[BreakerReport(self.label)],
            name=name,
        )

    async def call(
        self,
        method: Callable[..., Awaitable[Response]],
        request: Any,
        *,
        idempotent: bool,
    ) -> Response:
        """Calls `method(request)` within the budget, retrying transient failures; domain errors out."""
        budget = outgoing_timeout(self.settings.timeout)
        deadline = time.monotonic() + budget
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda error: _transient(error, idempotent)),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
            stop=stop_before_delay(budget),
            before_sleep=retry_counter(self.label, _rpc_name(request)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    timeout = min(self.settings.attempt_timeout, deadline - time.monotonic())
                    if timeout < _MIN_ATTEMPT_TIMEOUT:
                        raise errors.DeadlineExceeded(f"no time left to call {self.name}")
                    with self.breaker.calling():
                        response = await method(request, timeout=timeout)
        except pybreaker.CircuitBreakerError:
            raise errors.Unavailable(
                f"{self.name} is unavailable: its circuit breaker is open",
                reason=self.reason,
                metadata={"downstream": self.name, "breaker": "open"},
                retry_after=timedelta(seconds=self.settings.breaker_reset),
            ) from None
        except grpc.aio.AioRpcError as error:
            raise self.domain_error(error) from None
        return response

    def domain_error(self, error: grpc.aio.AioRpcError) -> errors.FareboxError:
        """The domain error for a downstream's final answer, keeping its reason and details."""
        info, violations, retry_after = _details(error)
        kind = _DOMAIN_ERRORS.get(error.code(), errors.Unavailable)
        metadata = {"downstream": self.name, **(dict(info.metadata) if info else {})}
        reason = info.reason if info and info.reason else None
        if kind is errors.Unavailable:
            metadata["downstream_code"] = error.code().name
            if reason:
                metadata["downstream_reason"] = reason
            reason = self.reason
        return kind(
            error.details() or f"{self.name} failed",
            reason=reason,
            metadata=metadata,
            field_violations=violations,
            retry_after=retry_after,
        )


def _details(
    error: grpc.aio.AioRpcError,
) -> tuple[error_details_pb2.ErrorInfo | None, list[tuple[str, str]], timedelta | None]:
    status = rpc_status.from_call(error)
    info, violations, retry_after = None, [], None
    for item in status.details if status is not None else ():
        if item.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            item.Unpack(info)
        elif item.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            item.Unpack(bad)
            violations = [(v.field, v.description) for v in bad.field_violations]
        elif item.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            item.Unpack(retry)
            retry_after = retry.retry_delay.ToTimedelta()
    return info, violations, retry_after


class CurrentStub(Generic[Stub]):
    """The stub over a reloading channel's current channel, made again when the channel is replaced."""

    def __init__(self, channels: ReloadingChannel, make: Callable[[grpc.aio.Channel], Stub]) -> None:
        self.channels = channels
        self._make = make
        self._channel: grpc.aio.Channel | None = None
        self._stub: Stub | None = None

    def get(self) -> Stub:
        """The stub for the channel calls should use now."""
        channel = self.channels.channel()
        if self._stub is None or channel is not self._channel:
            self._channel, self._stub = channel, self._make(channel)
        return self._stub


class SeatClient:
    """The seat inventory calls the booking service makes."""

    def __init__(self, channels: ReloadingChannel, settings: DownstreamSettings) -> None:
        self.channels = channels
        self.downstream = Downstream("seat_inventory", settings, label="seat")
        self._stub = CurrentStub(channels, seat_grpc.SeatInventoryServiceStub)

    async def hold_seats(
        self,
        *,
        trip_id: str,
        seat_numbers: list[str],
        from_stop: str,
        to_stop: str,
        holder_id: str,
        ttl: timedelta,
        request_id: str,
    ) -> seat.HoldSeatsResponse:
        """Holds the seats for the holder, or none of them."""
        duration = duration_pb2.Duration()
        duration.FromTimedelta(ttl)
        request = seat.HoldSeatsRequest(
            trip_id=trip_id,
            seat_numbers=seat_numbers,
            from_stop=from_stop,
            to_stop=to_stop,
            holder_id=holder_id,
            ttl=duration,
            request_id=request_id,
        )
        return await self.downstream.call(self._stub.get().HoldSeats, request, idempotent=True)

    async def release_hold(self, hold_id: str, request_id: str) -> seat.ReleaseHoldResponse:
        """Releases a hold; releasing one that is no longer active changes nothing."""
        request = seat.ReleaseHoldRequest(hold_id=hold_id, request_id=request_id)
        return await self.downstream.call(self._stub.get().ReleaseHold, request, idempotent=True)

    async def commit_hold(self, hold_id: str, booking_id: str, request_id: str) -> seat.CommitHoldResponse:
        """Sells a hold's seats to the booking."""
        request = seat.CommitHoldRequest(hold_id=hold_id, booking_id=booking_id, request_id=request_id)
        return await self.downstream.call(self._stub.get().CommitHold, request, idempotent=True)

    async def release_seats(self, booking_id: str, request_id: str) -> seat.ReleaseSeatsResponse:
        """Returns a booking's sold seats to stock."""
        request = seat.ReleaseSeatsRequest(booking_id=booking_id, request_id=request_id)
        return await self.downstream.call(self._stub.get().ReleaseSeats, request, idempotent=True)

    async def get_trip(self, trip_id: str) -> seat.GetTripResponse:
        """One trip, for its departure time."""
        request = seat.GetTripRequest(trip_id=trip_id)
        return await self.downstream.call(self._stub.get().GetTrip, request, idempotent=True)


class PaymentClient:
    """The payment calls the booking service makes."""

    def __init__(self, channels: ReloadingChannel, settings: DownstreamSettings) -> None:
        self.channels = channels
        self.downstream = Downstream("payment", settings)
        self._stub = CurrentStub(channels, pay_grpc.PaymentServiceStub)

    async def authorize(
        self, *, booking_reference: str, amount_minor: int, currency_code: str, token: str, request_id: str
    ) -> pay.AuthorizePaymentResponse:
        """Reserves the amount on the card; the payment comes back AUTHORIZED or DECLINED."""
        request = pay.AuthorizePaymentRequest(
            booking_reference=booking_reference,
            payment_token=token,
            request_id=request_id,
        )
        request.amount.amount_minor = amount_minor
        request.amount.currency_code = currency_code
        return await self.downstream.call(self._stub.get().AuthorizePayment, request, idempotent=True)

    async def capture(self, payment_id: str, request_id: str) -> pay.CapturePaymentResponse:
        """Captures the whole authorization."""
        request = pay.CapturePaymentRequest(payment_id=payment_id, request_id=request_id)
        return await self.downstream.call(self._stub.get().CapturePayment, request, idempotent=True)

    async def void(self, payment_id: str, request_id: str) -> pay.VoidPaymentResponse:
        """Cancels an uncaptured authorization."""
        request = pay.VoidPaymentRequest(payment_id=payment_id, request_id=request_id)
        return await self.downstream.call(self._stub.get().VoidPayment, request, idempotent=True)

    async def refund(self, payment_id: str, reason: str, request_id: str) -> pay.RefundPaymentResponse:
        """Refunds all that is left of the capture."""
        request = pay.RefundPaymentRequest(payment_id=payment_id, reason=reason, request_id=request_id)
        return await self.downstream.call(self._stub.get().RefundPayment, request, idempotent=True)

    async def get_by_id(self, payment_id: str) -> pay.GetPaymentResponse:
        """A payment by its id."""
        request = pay.GetPaymentRequest(payment_id=payment_id)
        return await self.downstream.call(self._stub.get().GetPayment, request, idempotent=True)

    async def get_by_authorization_key(self, request_id: str) -> pay.GetPaymentResponse:
        """The payment authorized under `request_id`; NotFound when there is none."""
        request = pay.GetPaymentRequest(authorization_request_id=request_id)
        return await self.downstream.call(self._stub.get().GetPayment, request, idempotent=True)


def open_channels(
    settings: DownstreamSettings,
    tls: TlsSettings,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> ReloadingChannel:
    """The channel to a downstream (mTLS with this service's certificate, or plaintext in dev)."""
    return ReloadingChannel(settings.target, tls, default_timeout=settings.timeout, interceptors=interceptors)
