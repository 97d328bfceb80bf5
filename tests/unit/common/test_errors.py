"""Domain errors map to one gRPC status each, with ErrorInfo, BadRequest and RetryInfo details."""

from datetime import timedelta

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from common import errors


def _details(status: grpc.Status) -> dict[str, object]:
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    decoded = status_pb2.Status.FromString(raw)
    found: dict[str, object] = {}
    for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
        for item in decoded.details:
            if item.Is(kind.DESCRIPTOR):
                detail = kind()
                item.Unpack(detail)
                found[kind.__name__] = detail
    return found


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (errors.InvalidArgument("bad"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (errors.IdempotencyKeyReused("reused"), grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED"),
        (errors.NotFound("nope"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
        (
            errors.FailedPrecondition("late", reason="HOLD_EXPIRED"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "HOLD_EXPIRED",
        ),
        (errors.SeatUnavailable(["1A", "1B"]), grpc.StatusCode.ABORTED, "SEAT_UNAVAILABLE"),
        (errors.RequestInProgress(), grpc.StatusCode.ABORTED, "REQUEST_IN_PROGRESS"),
        (errors.Unauthenticated("who"), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
        (errors.PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
        (errors.ResourceExhausted("slow down"), grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        (
            errors.Unavailable("down", reason="REDIS_UNAVAILABLE"),
            grpc.StatusCode.UNAVAILABLE,
            "REDIS_UNAVAILABLE",
        ),
        (errors.DeadlineExceeded("late"), grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
    ],
)
def test_each_error_has_its_code_and_a_stable_reason(error: errors.FareboxError, code, reason) -> None:
    status = error.to_status()
    assert status.code == code
    info = _details(status)["ErrorInfo"]
    assert info.reason == reason
    assert info.domain == errors.ERROR_DOMAIN


def test_a_taken_seat_is_aborted_never_resource_exhausted() -> None:
    status = errors.SeatUnavailable(["3C"]).to_status()
    assert status.code == grpc.StatusCode.ABORTED
    assert _details(status)["ErrorInfo"].metadata["seats"] == "3C"


def test_field_violations_and_retry_delay_are_carried() -> None:
    error = errors.InvalidArgument("bad seats", field_violations=[("seat_numbers", "must not be empty")])
    violations = _details(error.to_status())["BadRequest"].field_violations
    assert [(v.field, v.description) for v in violations] == [("seat_numbers", "must not be empty")]
    retry = _details(errors.ResourceExhausted("later", retry_after=timedelta(seconds=2)).to_status())[
        "RetryInfo"
    ]
    assert retry.retry_delay.seconds == 2
