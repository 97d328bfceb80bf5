"""Domain errors and their one mapping to gRPC status with rich details.

FareboxError                        UNKNOWN, the root; never raised itself
├── InvalidArgument                 INVALID_ARGUMENT, with BadRequest field violations
│   └── IdempotencyKeyReused        INVALID_ARGUMENT, reason IDEMPOTENCY_KEY_REUSED
├── NotFound                        NOT_FOUND
├── FailedPrecondition              FAILED_PRECONDITION, with a stable reason
├── Aborted                         ABORTED, with a stable reason and an optional retry delay
│   ├── SeatUnavailable             ABORTED, reason SEAT_UNAVAILABLE, the taken seats in metadata
│   └── RequestInProgress           ABORTED, reason REQUEST_IN_PROGRESS, retry soon
├── Unauthenticated                 UNAUTHENTICATED
├── PermissionDenied                PERMISSION_DENIED
├── ResourceExhausted               RESOURCE_EXHAUSTED, with a retry delay (the rate limiter's)
├── Unavailable                     UNAVAILABLE, reason naming the missing dependency
└── DeadlineExceeded                DEADLINE_EXCEEDED
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "farebox.io"

_Detail = TypeVar("_Detail", bound=Message)


class FareboxError(Exception):
    """An error a client is told about, with a gRPC code and a stable reason."""

    code = grpc.StatusCode.UNKNOWN
    default_reason = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[tuple[str, str]] = (),
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.retry_after = retry_after

    def to_status(self) -> grpc.Status:
        """The gRPC status with ErrorInfo, and BadRequest / RetryInfo where they apply."""
        details = [
            error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        ]
        if self.field_violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
                        for field, description in self.field_violations
                    ]
                )
            )
        if self.retry_after is not None:
            delay = duration_pb2.Duration()
            delay.FromTimedelta(self.retry_after)
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        packed = []
        for detail in details:
            item = any_pb2.Any()
            item.Pack(detail)
            packed.append(item)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)
        return rpc_status.to_status(status)


class InvalidArgument(FareboxError):
    """The request is malformed; field_violations name the offending fields."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class IdempotencyKeyReused(InvalidArgument):
    """The request_id was used before with a different request."""

    default_reason = "IDEMPOTENCY_KEY_REUSED"


class NotFound(FareboxError):
    """The named resource does not exist, or the caller may not know it does."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class FailedPrecondition(FareboxError):
    """The resource is not in a state that allows the operation."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(FareboxError):
    """The operation lost a race; the caller may retry at a higher level."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class SeatUnavailable(Aborted):
    """Some requested seats are taken for the journey; nothing was held."""

    default_reason = "SEAT_UNAVAILABLE"

    def __init__(self, seats: Sequence[str]) -> None:
        super().__init__(
            f"seats not available: {', '.join(seats)}",
            metadata={"seats": ",".join(seats)},
        )
        self.seats = list(seats)


class RequestInProgress(Aborted):
    """A request with the same idempotency key is still running."""

    default_reason = "REQUEST_IN_PROGRESS"

    def __init__(self, message: str = "a request with this request_id is still in progress") -> None:
        super().__init__(message, retry_after=timedelta(milliseconds=200))


class Unauthenticated(FareboxError):
    """The caller's credentials are missing or invalid."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(FareboxError):
    """The caller is known but not allowed to do this."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(FareboxError):
    """The caller is over a rate limit; retry after the given delay."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RATE_LIMITED"


class Unavailable(FareboxError):
    """A dependency is unreachable; the reason names it."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(FareboxError):
    """Too little time is left to finish the call."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail of an RPC error, or None when it has none."""
    return _detail(error, error_details_pb2.ErrorInfo)


def bad_request(error: grpc.RpcError) -> error_details_pb2.BadRequest | None:
    """The BadRequest detail of an RPC error, or None when it has none."""
    return _detail(error, error_details_pb2.BadRequest)


def retry_info(error: grpc.RpcError) -> error_details_pb2.RetryInfo | None:
    """The RetryInfo detail of an RPC error, or None when it has none."""
    return _detail(error, error_details_pb2.RetryInfo)


def _detail(error: grpc.RpcError, kind: type[_Detail]) -> _Detail | None:
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for item in status.details:
        if item.Is(kind.DESCRIPTOR):
            detail: _Detail = kind()
            item.Unpack(detail)
            return detail
    return None
